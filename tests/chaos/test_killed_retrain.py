"""A retrain SIGKILLed in the middle of training, or stopped with the whole stack: its attempt holds the episode until
its lease runs out, then the episode retrains exactly once more: not twice, and not never.

`make chaos` runs this on a stack of its own; the drift policy's lease is shortened to one minute for it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from blocks import names
from blocks.models import DriftPolicy
from blocks.settings import Settings
from deployments.watch.runs import flow_runs, wait_until
from tasks.model import champions
from tasks.model.attempts import read_attempts
from tasks.model.history import read_log
from tasks.platform.config import DatasetConfig
from tests.batches import write_validated
from tests.chaos_results import ChaosLog
from tests.durable_fixture import champion_dataset
from tests.stack_fixture import run_cli

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]

LEASE_MINUTES = 1.0


@pytest.fixture
def short_lease(api: Settings) -> Iterator[None]:
    """The stack's drift policy with a one-minute attempt lease, restored afterwards."""
    policy = DriftPolicy.load(names.DRIFT_POLICY)
    policy.model_copy(update={"attempt_lease_minutes": LEASE_MINUTES}).save(names.DRIFT_POLICY, overwrite=True)
    yield
    policy.save(names.DRIFT_POLICY, overwrite=True)


def process_of(flow_run_id: UUID) -> int:
    """The pid of the worker's child process that runs `flow_run_id` (found by the id in its environment)."""
    wanted = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    raise AssertionError(f"no process runs flow run {flow_run_id}")


def training_started(cfg: DatasetConfig, since: datetime) -> None:
    def training() -> bool:
        with get_client(sync_client=True) as client:
            runs = [r for r in flow_runs(client, "train", since) if r.parameters.get("dataset") == cfg.name]
        return any(r.state is not None and r.state.is_running() for r in runs)

    wait_until(training, 300, "the retrain's training to start", poll=0.1)


def request_retrain(cfg: DatasetConfig, champion: str) -> FlowRun:
    parameters = {"dataset": cfg.name, "champion_version": champion}
    return run_deployment("retrain/driftloop", parameters=parameters, timeout=0)


def final(run: FlowRun, timeout: float = 600) -> FlowRun:
    def done() -> bool:
        nonlocal run
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run.id)
        return run.state is not None and run.state.is_final()

    wait_until(done, timeout, f"retrain run {run.id} to end")
    return run


def test_a_retrain_killed_mid_training_retrains_once_after_its_lease(
    api: Settings, short_lease: None, chaos_log: ChaosLog
) -> None:
    cfg = champion_dataset("credit-killed", "credit-risk-killed", seed=400)
    for day in range(4, 8):
        write_validated(cfg, seed=400 + day, rows=20_000)  # enough rows that training takes a while
    champion = champions.champion(read_log(cfg))
    tenure = champions.tenure(read_log(cfg))
    assert champion == "1"

    # when: a retrain is SIGKILLed as soon as its training starts
    since = datetime.now(UTC)
    killed = request_retrain(cfg, champion)
    training_started(cfg, since)
    os.kill(process_of(killed.id), signal.SIGKILL)
    killed_at = time.monotonic()
    ((attempt, outcome),) = read_attempts(cfg.store, cfg.model_name, tenure)
    assert outcome is None and attempt.flow_run_id == str(killed.id)  # it died before it could say how it ended

    # then: while its lease lasts, the episode is held, not retrained a second time alongside it
    held = final(request_retrain(cfg, champion))
    assert held.state is not None and held.state.is_completed()
    assert f"attempt 1 (flow run {killed.id}) holds the episode" in (held.state.message or "")

    # and: once the lease ran out, two requests make exactly one new attempt, which trains and decides
    time.sleep(max(0.0, (attempt.lease_until - datetime.now(UTC)).total_seconds()) + 1)
    runs = [final(run) for run in (request_retrain(cfg, champion), request_retrain(cfg, champion))]
    messages = sorted(run.state.message or "" for run in runs if run.state is not None)
    assert [m.split(":")[0] for m in messages] == ["retrain skipped", "retrained"], messages
    attempts = read_attempts(cfg.store, cfg.model_name, tenure)
    assert [a.number for a, _ in attempts] == [1, 2] and attempts[1][1] is not None
    versions = MlflowClient(api.resolved_mlflow_uri).search_model_versions(f"name='{cfg.model_name}'")
    assert len(versions) == 2, [v.version for v in versions]  # the champion and the one retrain that finished

    # and: once reconcile has scored and checked the window, nothing is lost or doubled
    found = chaos_log.recovered(
        "01 retrain killed", "SIGKILL of a retrain's flow process mid-training", cfg, [], since, killed_at
    )
    assert found.clean, found


def test_a_retrain_stopped_with_the_stack_is_ended_by_up_and_frees_the_next_retrain(
    api: Settings, short_lease: None, chaos_log: ChaosLog
) -> None:
    cfg = champion_dataset("credit-stopped", "credit-risk-stopped", seed=420)
    for day in range(4, 8):
        write_validated(cfg, seed=420 + day, rows=20_000)
    champion = champions.champion(read_log(cfg))
    assert champion == "1"

    # when: the whole stack is stopped while a retrain trains, and started again
    since = datetime.now(UTC)
    stopped = request_retrain(cfg, champion)
    training_started(cfg, since)
    assert run_cli(api, "down").returncode == 0
    stopped_at = time.monotonic()
    started = run_cli(api, "up")
    assert started.returncode == 0, started.stdout + started.stderr

    # then: `up` ended the run its stopped worker left Running (it held retrain's one concurrency slot) ...
    assert "left by the stopped worker" in started.stdout, started.stdout
    ended = final(stopped, timeout=30)
    assert ended.state is not None and ended.state.is_crashed(), ended.state

    # and: once the attempt's lease ran out, the next retrain gets the slot, trains and decides
    ((attempt, _),) = read_attempts(cfg.store, cfg.model_name, champions.tenure(read_log(cfg)))
    time.sleep(max(0.0, (attempt.lease_until - datetime.now(UTC)).total_seconds()) + 1)
    retrained = final(request_retrain(cfg, champion))
    assert retrained.state is not None and (retrained.state.message or "").startswith("retrained"), retrained.state
    found = chaos_log.recovered(
        "12 stack down mid-retrain", "driftloop down while a retrain trains, then up", cfg, [], since, stopped_at
    )
    assert found.clean, found
