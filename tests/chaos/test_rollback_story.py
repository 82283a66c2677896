"""Long stories of rollbacks on a stack of their own. A confirmed recession retrains v2, a rollback restores v1, and
when v1 meets the recession again minutes later its first confirmed drift retrains within 60 s: the previous
episode's cooldown, keyed by model and tenure, does not swallow it. And a promotion that the world undoes at once is
found degraded in its bake period and rolled back by the automation, once, with one notification. (Long rather than
faulty: they live in `make chaos` to keep `make test` within its time.)"""

from __future__ import annotations

import time

import pytest
from prefect.client.orchestration import get_client

from blocks.register import demo_dataset
from blocks.settings import Settings
from deployments.stack.automations import ALERTS_BLOCK
from deployments.watch.runs import wait_for_runs, wait_until
from tasks.model.history import read_log
from tasks.model.registry import champion_version
from tasks.platform.config import load_dataset
from tests.alerts import alerts_block, messages, receiver
from tests.durable_fixture import champion_dataset, land_one, run_and_wait
from tests.flows.test_bake import promoted_over
from tests.flows.test_loop import confirmed_drift
from tests.stack_fixture import run_cli

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def test_drift_after_a_rollback_retrains_within_a_minute_of_the_confirmed_drift_event(api: Settings) -> None:
    cfg = champion_dataset("credit-rollback", "credit-risk-rollback", seed=500)
    first = champion_version(cfg)
    confirmed_drift(seed=510, first_day=40, dataset=cfg.name)
    second = champion_version(cfg)
    assert second is not None and second != first

    # when: the champion is rolled back, and the old champion meets the shifted regime again minutes later
    run_and_wait("rollback", dataset=cfg.name)
    assert champion_version(cfg) == first
    drift, again = confirmed_drift(seed=520, first_day=50, dataset=cfg.name)

    # then: the new tenure's first confirmed drift retrains at once; the last episode's cooldown does not swallow it
    assert drift.payload["champion_version"] == first
    assert again.start_time is not None and (again.start_time - drift.occurred).total_seconds() < 60
    assert again.state is not None and (again.state.message or "").startswith("retrained"), again.state


def test_a_promotion_the_world_undoes_is_rolled_back_by_the_automation_once_with_one_notification(
    api: Settings,
) -> None:
    with receiver() as got:
        alerts_block(got.url)
        run_cli(api, "up")  # applies the decision alert for the new block
        spec = demo_dataset()
        spec.model_name = "credit-risk-bake"
        spec.save("credit-bake", overwrite=True)
        cfg = load_dataset("credit-bake")
        first, second = promoted_over(cfg, concept=True)

        # when: right after the promotion, the world flips back and a batch lands
        _, since = land_one(cfg, seed=530)

        # then: ingest, score (with v1 beside v2), monitor (degraded) and the rollback automation run by themselves
        (rolled,) = wait_for_runs("rollback", 1, since, timeout=420, parameters={"dataset": cfg.name})
        assert rolled.state is not None and rolled.state.is_completed(), rolled.state
        subject = f"{cfg.model_name} rolled-back"
        wait_until(lambda: bool(messages(got, subject)), 120, "the rollback notification")
        time.sleep(10)  # a second rollback or notification would come within seconds
        alerts = messages(got, subject)
        with get_client(sync_client=True) as client:
            client.delete_block_document(client.read_block_document_by_name(ALERTS_BLOCK, "custom-webhook").id)
        run_cli(api, "up")  # no block: the alerts are off again for the suite's other stories

    assert champion_version(cfg) == first
    rollbacks = [record for record in read_log(cfg) if record.action == "rollback"]
    assert [(r.from_version, r.to_version) for r in rollbacks] == [(second, first)]
    assert "degraded in its bake period" in rollbacks[0].why and f"v{first} beats v{second}" in rollbacks[0].why
    (alert,) = alerts
    assert f"champion v{second} -> v{first}" in alert["body"] and "degraded in its bake period" in alert["body"]
