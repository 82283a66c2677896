"""The human approval gate: a challenger that passed every gate waits for a person; approve promotes it with the
reason in the history, reject and silence keep the champion. On the real S3, MLflow and a Prefect server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import FlowRun

from deployments.watch.runs import wait_until
from flows.promote import promote
from flows.train import train
from tasks.model.gates import PromotionDecision
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


def decide(cfg: DatasetConfig, version: str, reply: tuple[bool, str] | None) -> tuple[PromotionDecision, FlowRun]:
    """Promote `version`, answer its pause with `reply` (None: let it time out), and return the decision and run."""
    thread, out = promote_in_background(cfg, version)
    run = paused_promotion(cfg)
    assert alias_version(cfg, CHAMPION) is None  # nothing moved while it waits
    assert run.state is not None and run.state.state_details.run_input_keyset  # a form is waiting
    if reply is not None:
        answer(run.id, approve=reply[0], reason=reply[1])
    thread.join(180)
    with get_client(sync_client=True) as client:
        return out["decision"], client.read_flow_run(run.id)


def test_silence_and_a_rejection_keep_the_champion_and_an_approval_promotes_with_its_reason(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)

    cfg = promotion_policy(require_approval=True, approval_timeout_hours=12 / 3600)  # twelve seconds to answer
    unanswered, run = decide(cfg, version, None)
    assert unanswered.outcome == "rejected" and unanswered.reasons == [f"no answer within {12 / 3600:g} h"]
    assert run.state is not None and run.state.is_completed() and run.state.name == "Rejected"  # not a failure

    cfg = promotion_policy(require_approval=True, approval_timeout_hours=24)
    rejected, run = decide(cfg, version, (False, "launch freeze"))
    assert rejected.outcome == "rejected" and rejected.reasons == ["rejected by a person: launch freeze"]
    assert alias_version(cfg, CHAMPION) is None

    approved, run = decide(cfg, version, (True, "checked the slices by hand"))
    assert approved.promoted and run.state is not None and run.state.name == "Promoted"
    assert alias_version(cfg, CHAMPION) == version
    log = read_log(cfg)
    assert [record.action for record in log] == ["reject", "reject", "promote"]
    assert "no answer within" in log[0].why and log[1].why == "rejected by a person: launch freeze"
    assert log[2].why == "all gates passed; approved by a person: checked the slices by hand"
