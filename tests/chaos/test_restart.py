"""Nothing lost on restart or when the object store dies mid-write: the whole stack, stopped and killed for real.

`make chaos` runs these on a stack of their own (they stop and kill its processes); `make test` leaves them out.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from prefect.client.orchestration import get_client

from blocks.settings import Settings
from deployments.stack.state import recorded_pid
from deployments.watch.runs import flow_runs, wait_for_runs, wait_until
from tasks.data.lake import ledger_key
from tasks.data.lake_index import list_batches
from tasks.model.registry import champion_version, forget_loaded_versions, load_model, load_reference
from tasks.platform.config import DatasetConfig, load_dataset
from tests.chaos_results import ChaosLog
from tests.durable_fixture import DURABLE_DATASET, fingerprints, land_one, run_and_wait
from tests.stack_fixture import run_cli

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def test_down_then_up_loses_nothing_and_the_loop_goes_on(
    api: Settings, champion: DatasetConfig, chaos_log: ChaosLog
) -> None:
    before = fingerprints(champion)
    stopped_at = time.monotonic()
    assert any(key.startswith(f"predictions/{DURABLE_DATASET}/") for key in before)
    assert any(key.startswith(f"reports/{DURABLE_DATASET}/") for key in before)

    stopped = run_cli(api, "down")
    assert stopped.returncode == 0, stopped.stderr
    started = run_cli(api, "up")
    assert started.returncode == 0, started.stdout + started.stderr

    cfg = load_dataset(DURABLE_DATASET)
    assert fingerprints(cfg) == before
    forget_loaded_versions()
    version = champion_version(cfg)
    assert version is not None
    assert load_model(cfg, version).booster.num_trees() > 0  # downloaded again and verified against its manifest
    assert load_reference(cfg, version)[0].height > 0
    key, since = land_one(cfg, seed=311)
    (monitored,) = wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": cfg.name})
    assert monitored.state is not None and monitored.state.is_completed(), monitored.state
    found = chaos_log.recovered(
        "11 stack down and up", "driftloop down, then up (data kept)", cfg, [key], since, stopped_at
    )
    assert found.clean, found


def test_s3_killed_mid_ingest_loses_nothing_and_duplicates_nothing(
    api: Settings, champion: DatasetConfig, chaos_log: ChaosLog
) -> None:
    cfg = load_dataset(DURABLE_DATASET)
    batches_before = len(list_batches(cfg.store, cfg.name))
    key, since = land_one(cfg, seed=320, rows=60_000)

    def ingest_running() -> bool:
        with get_client(sync_client=True) as client:
            runs = [r for r in flow_runs(client, "ingest", since) if r.parameters.get("key") == key]
        return any(r.state is not None and r.state.is_running() for r in runs)

    wait_until(ingest_running, 120, "the ingest of the landed object to run", poll=0.2)
    pid = recorded_pid(api.home, "s3")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    time.sleep(1)
    restarted = run_cli(api, "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "s3: started" in restarted.stdout

    (run,) = wait_for_runs("ingest", 1, since, timeout=300, parameters={"key": key})
    if not (run.state and run.state.is_completed()):
        run_and_wait("ingest", dataset=cfg.name)  # what the scheduled sweep does with an object left unledgered
    ledger = cfg.store.get_json(ledger_key(cfg.name, key))
    assert ledger["outcome"] == "ingested", ledger
    batches = list_batches(cfg.store, cfg.name)
    assert len(batches) == batches_before + 1
    assert [b.batch_id for b in batches].count(ledger["batch_id"]) == 1
    faults = "SIGKILL of the S3 server during an ingest, then up"
    found = chaos_log.recovered("06 S3 killed mid-ingest", faults, cfg, [key], since, killed_at)
    assert found.clean, found
