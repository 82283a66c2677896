"""The human approval gate: a challenger that passed every gate waits for a person; approve promotes it with the
reason in the history, reject and silence keep the champion. On the real S3, MLflow and a Prefect server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import FlowRun

from deployments.watch.runs import wait_until
from flows.promote import promote
from flows.train import train
from tasks.model.history import read_log
from tasks.model.registry import CHAMPION, alias_version
from tasks.model.steps.approval import answer
from tasks.platform.config import DatasetConfig
from tests.flows.test_train_promote import land

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def promote_in_background(cfg: DatasetConfig, version: str) -> tuple[threading.Thread, dict[str, Any]]:
    """Start promote in a thread (it blocks while Paused); its decision lands in the returned dict."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(decision=promote(dataset=cfg.name, challenger_version=version)))
    thread.start()
    return thread, out


def paused_promotion(cfg: DatasetConfig) -> FlowRun:
    def paused() -> list[FlowRun]:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["PAUSED"])))
            )
        return [run for run in runs if run.parameters.get("dataset") == cfg.name]

    wait_until(lambda: bool(paused()), 120, "the promote run to pause for approval")
    return paused()[0]


def test_a_passing_challenger_waits_then_approve_promotes_with_the_reason(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    cfg = promotion_policy(require_approval=True, approval_timeout_hours=24)
    thread, out = promote_in_background(cfg, version)
    run = paused_promotion(cfg)
    assert alias_version(cfg, CHAMPION) is None  # nothing moved while it waits
    assert run.state is not None and run.state.state_details.run_input_keyset  # a form is waiting
    answer(run.id, approve=True, reason="checked the slices by hand")
    thread.join(120)
    decision = out["decision"]
    assert decision.promoted and decision.outcome == "promoted"
    assert alias_version(cfg, CHAMPION) == version
    (record,) = read_log(cfg)
    assert record.action == "promote" and record.why.endswith("approved by a person: checked the slices by hand")


@pytest.mark.parametrize("how", ["reject", "timeout"])
def test_a_rejected_or_unanswered_approval_keeps_the_champion(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig], how: str
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    hours = 24 if how == "reject" else 12 / 3600  # twelve seconds without an answer
    cfg = promotion_policy(require_approval=True, approval_timeout_hours=hours)
    thread, out = promote_in_background(cfg, version)
    run = paused_promotion(cfg)
    if how == "reject":
        answer(run.id, approve=False, reason="launch freeze")
    thread.join(180)
    decision = out["decision"]
    assert not decision.promoted and decision.outcome == "rejected"
    expected = "rejected by a person: launch freeze" if how == "reject" else "no answer within"
    assert expected in decision.reasons[0]
    assert alias_version(cfg, CHAMPION) is None
    (record,) = read_log(cfg)
    assert record.action == "reject" and expected in record.why
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(UUID(str(run.id))).state
    assert final is not None and final.is_completed() and final.name == "Rejected"  # a decision, not a failure
