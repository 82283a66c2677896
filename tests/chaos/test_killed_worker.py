"""The worker and every flow run it started, SIGKILLed mid-chain as a dying host would take them: the orphaned run
is marked Crashed by the heartbeat automation, and reconcile makes good the scoring and monitoring it left missing.

`make chaos` runs this on a stack of its own.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import psutil
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType

from blocks.settings import Settings
from deployments.stack.state import recorded_pid
from deployments.watch.runs import flow_runs, wait_until
from tasks.data import lake
from tasks.data.lake_index import list_batches
from tasks.model.registry import champion_version
from tasks.platform.config import DatasetConfig
from tests.chaos_results import ChaosLog
from tests.durable_fixture import land_one, run_and_wait
from tests.stack_fixture import run_cli

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def kill_worker_and_its_runs(api: Settings) -> None:
    pid = recorded_pid(api.home, "worker")
    assert pid is not None
    worker = psutil.Process(pid)
    for process in [*worker.children(recursive=True), worker]:
        process.send_signal(signal.SIGKILL)


def test_a_killed_worker_s_run_becomes_crashed_and_reconcile_scores_and_monitors_its_batch(
    api: Settings, champion: DatasetConfig, chaos_log: ChaosLog
) -> None:
    cfg, version = champion, champion_version(champion)
    assert version is not None
    key, since = land_one(cfg, seed=330)
    scoring: list[FlowRun] = []

    def score_running() -> bool:
        with get_client(sync_client=True) as client:
            runs = [r for r in flow_runs(client, "score", since) if r.parameters.get("dataset") == cfg.name]
        scoring[:] = [r for r in runs if r.state is not None and r.state.is_running()]
        return bool(scoring)

    wait_until(score_running, 300, "the landed batch's score run to run", poll=0.1)
    killed_at, killed_monotonic = datetime.now(UTC), time.monotonic()
    kill_worker_and_its_runs(api)

    def crashed() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(scoring[0].id).state
        return state is not None and state.type == StateType.CRASHED

    try:
        wait_until(crashed, 240, "the orphaned score run to be marked Crashed by the heartbeat automation", poll=2)
        detected_after = (datetime.now(UTC) - killed_at).total_seconds()
    finally:  # the suite's next tests need a worker, whatever happened here
        restarted = run_cli(api, "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "worker: started" in restarted.stdout

    run_and_wait("reconcile", dataset=cfg.name, grace_minutes=0)
    batch_id = str(cfg.store.get_json(lake.ledger_key(cfg.name, key))["batch_id"])
    summary = lake.drift_check_prefix(cfg.name, batch_id, version) + "summary.json"
    wait_until(lambda: cfg.store.exists(summary), 300, "reconcile's score and monitor runs to check the batch")
    assert cfg.store.exists(lake.predictions_key(cfg.name, version, batch_id))
    assert [b.batch_id for b in list_batches(cfg.store, cfg.name)].count(batch_id) == 1
    assert detected_after < 240, detected_after
    faults = "SIGKILL of the worker and its flow runs while a score run ran"
    found = chaos_log.recovered("02 worker killed", faults, cfg, [key], since, killed_monotonic)
    assert found.clean, found
