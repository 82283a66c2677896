"""Nothing lost on restart, and no secret anywhere it should not be: the whole stack, stopped and started again.

Runs on the session's stack after the loop tests (same xdist group): a champion, scored and monitored batches, then
`driftloop down` and `driftloop up`, then a SIGKILL of the S3 server in the middle of an ingest.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from blocks.register import demo_dataset
from blocks.settings import Settings
from deployments.stack.state import load_or_create_credentials, recorded_pid
from deployments.watch.events import events_since
from deployments.watch.runs import flow_runs, wait_for_runs, wait_until
from tasks.contracts.credit import generate
from tasks.data.lake import ledger_key
from tasks.data.lake_io import list_batches
from tasks.model.registry import champion_version, forget_loaded_versions, load_model, load_reference
from tasks.platform import events
from tasks.platform.codec import parquet_bytes
from tasks.platform.config import DatasetConfig, load_dataset
from tests.batches import write_validated
from tests.stack_fixture import run_cli, stack_api

pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("stack")]

DATASET = "credit-durable"


@pytest.fixture(scope="module")
def api(local_stack: Settings) -> Iterator[Settings]:
    with stack_api(local_stack):
        yield local_stack


def run_and_wait(flow: str, **parameters: object) -> None:
    run = run_deployment(f"{flow}/driftloop", parameters=parameters, timeout=600)
    assert run.state is not None and run.state.is_completed(), f"{flow}: {run.state}"


def land_one(cfg: DatasetConfig, seed: int, rows: int = 4000) -> tuple[str, datetime]:
    """Put one parquet object in landing/ and announce it, as a producer would; its key and when."""
    since = datetime.now(UTC)
    key = f"landing/{cfg.name}/durable-{seed}.parquet"
    cfg.store.put(key, parquet_bytes(generate(rows, seed, datetime(2024, 3, 1))))
    resource = events.batch_resource(cfg.name, key.rsplit("/", 1)[-1])
    events.emit(events.BATCH_LANDED, resource, {"dataset": cfg.name, "key": key})
    return key, since


def fingerprints(cfg: DatasetConfig) -> dict[str, str]:
    """SHA-256 of every object driftloop wrote for the dataset and of every MLflow artifact, by key."""
    prefixes = [f"lake/{cfg.name}/", f"predictions/{cfg.name}/", f"reports/{cfg.name}/", "mlflow/"]
    keys = [key for prefix in prefixes for key in cfg.store.list_keys(prefix)]
    return {key: hashlib.sha256(cfg.store.get(key)).hexdigest() for key in keys}


@pytest.fixture(scope="module")
def champion(api: Settings) -> DatasetConfig:
    """A dataset with a promoted champion, and one landed batch ingested, scored and monitored by automation."""
    spec = demo_dataset()
    spec.model_name, spec.holdout_rows = "credit-risk-durable", 1500
    spec.save(DATASET, overwrite=True)
    cfg = load_dataset(DATASET)
    for day in range(4):
        write_validated(cfg, seed=300 + day, rows=4000)
    run_and_wait("train", dataset=cfg.name)
    run_and_wait("promote", dataset=cfg.name)
    _, since = land_one(cfg, seed=310)
    wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": cfg.name})
    return cfg


def test_down_then_up_loses_nothing_and_the_loop_goes_on(api: Settings, champion: DatasetConfig) -> None:
    before = fingerprints(champion)
    assert any(key.startswith(f"predictions/{DATASET}/") for key in before)
    assert any(key.startswith(f"reports/{DATASET}/") for key in before)

    stopped = run_cli(api, "down")
    assert stopped.returncode == 0, stopped.stderr
    started = run_cli(api, "up")
    assert started.returncode == 0, started.stdout + started.stderr

    cfg = load_dataset(DATASET)
    assert fingerprints(cfg) == before
    forget_loaded_versions()
    version = champion_version(cfg)
    assert version is not None
    assert load_model(cfg, version).booster.num_trees() > 0  # downloaded again and verified against its manifest
    assert load_reference(cfg, version)[0].height > 0
    _, since = land_one(cfg, seed=311)
    (monitored,) = wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": cfg.name})
    assert monitored.state is not None and monitored.state.is_completed(), monitored.state


def test_s3_killed_mid_ingest_loses_nothing_and_duplicates_nothing(api: Settings, champion: DatasetConfig) -> None:
    cfg = load_dataset(DATASET)
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


def test_no_generated_secret_appears_in_logs_artifacts_events_tags_or_status(
    api: Settings, champion: DatasetConfig
) -> None:
    secrets = load_or_create_credentials(api.home).secrets()
    status = run_cli(api, "status")
    places: dict[str, str] = {"driftloop status": status.stdout + status.stderr}
    for log in (api.home / "logs").rglob("*"):
        if log.is_file():
            places[str(log)] = log.read_text(errors="replace")
    with get_client(sync_client=True) as client:
        places["artifacts"] = " ".join(str(a.model_dump()) for a in client.read_artifacts())
    driftloop_events = events_since(list(events.ALL_EVENTS), datetime(2000, 1, 1, tzinfo=UTC))
    places["events"] = " ".join(str(e.model_dump()) for e in driftloop_events)
    mlflow = MlflowClient(api.resolved_mlflow_uri)
    experiment = mlflow.get_experiment_by_name(f"driftloop-{DATASET}")
    assert experiment is not None
    runs = mlflow.search_runs([experiment.experiment_id], max_results=500)
    places["mlflow runs"] = " ".join(str(run.data.params) + str(run.data.tags) for run in runs)
    assert runs, f"no MLflow runs in {experiment}"
    assert places["artifacts"] and places["events"]
    leaks = [(place, i) for place, text in places.items() for i, secret in enumerate(secrets) if secret in text]
    assert leaks == []
