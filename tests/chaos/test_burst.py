"""A burst of twenty confirmed drift events for one model within a second, from another process: one retrain
trains and decides, and every other run the burst caused is visibly deduplicated.

`make chaos` runs this on a stack of its own.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from blocks.settings import Settings
from deployments.stack.environment import stack_environment
from deployments.watch.events import wait_for_events
from deployments.watch.runs import wait_for_runs
from tasks.model.registry import champion_version
from tasks.platform import events
from tests.chaos_results import ChaosLog
from tests.durable_fixture import champion_dataset

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]

BURST = """
import sys
from tasks.platform import events
dataset, model, champion = sys.argv[1], sys.argv[2], sys.argv[3]
resource = events.model_resource(model, dataset) | {"driftloop.tenure": "1", "driftloop.confirmed": "true"}
for _ in range(20):
    events.emit(events.DRIFT_DETECTED, resource,
                {"dataset": dataset, "model": model, "champion_version": champion, "onset_batch_id": "",
                 "confirmed": True, "drift_share": 0.5})
"""


def test_a_burst_of_drift_events_makes_one_retrain_and_one_decision(api: Settings, chaos_log: ChaosLog) -> None:
    # given: a dataset with validated batches and a champion
    cfg = champion_dataset("credit-burst", "credit-risk-burst", seed=200)
    champion = champion_version(cfg)
    assert champion is not None
    since = datetime.now(UTC)

    # when: twenty drift events for its model arrive within a second, from another process
    env = stack_environment(api)
    burst_at = time.monotonic()
    subprocess.run([sys.executable, "-c", BURST, cfg.name, cfg.model_name, champion], check=True, env=env, timeout=120)

    # then: one retrain trains and decides; every other run the burst caused is visibly deduplicated
    runs = wait_for_runs("retrain", 1, since, timeout=420, parameters={"dataset": cfg.name})
    time.sleep(15)  # give any duplicate a chance to show up before counting
    runs = wait_for_runs("retrain", 1, since, timeout=420, parameters={"dataset": cfg.name})
    messages = [run.state.message or "" if run.state else "" for run in runs]
    assert [m for m in messages if m.startswith("retrained")] == [messages[0]], messages
    assert all(m.startswith("retrain skipped") for m in messages[1:]), messages
    decisions = wait_for_events(
        [events.MODEL_PROMOTED, events.MODEL_REJECTED],
        since,
        where=lambda e: e.resource.id == f"driftloop.model.{cfg.model_name}",
    )
    assert len(decisions) == 1
    found = chaos_log.recovered("09 drift burst", "20 confirmed drift events within a second", cfg, [], since, burst_at)
    assert found.clean, found
