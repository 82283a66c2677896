"""A dataset with a durable champion on the whole local stack, for the secret search and the fault suite.

The champion is trained and promoted by the deployed flows; one landed batch is then ingested, scored and monitored
by the automations, so every kind of object, MLflow run, artifact and event exists before a test looks for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect.deployments import run_deployment

from blocks.register import demo_dataset
from blocks.settings import Settings
from deployments.watch.runs import wait_for_runs
from tasks.contracts.credit import generate
from tasks.platform import events
from tasks.platform.codec import parquet_bytes
from tasks.platform.config import DatasetConfig, load_dataset
from tests.batches import write_validated
from tests.stack_fixture import stack_api

DURABLE_DATASET = "credit-durable"


@pytest.fixture(scope="module")
def api(local_stack: Settings) -> Iterator[Settings]:
    """The session's stack, with this process's Prefect and MLflow clients pointed at it."""
    with stack_api(local_stack):
        yield local_stack


def run_and_wait(flow: str, **parameters: object) -> None:
    """Run a deployment of the stack and require it to complete."""
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


def champion_dataset(name: str, model: str, seed: int) -> DatasetConfig:
    """A dataset of four validated batches with a champion trained and promoted by the deployed flows."""
    spec = demo_dataset()
    spec.model_name, spec.holdout_rows = model, 1500
    spec.save(name, overwrite=True)
    cfg = load_dataset(name)
    for day in range(4):
        write_validated(cfg, seed=seed + day, rows=4000)
    run_and_wait("train", dataset=cfg.name)
    run_and_wait("promote", dataset=cfg.name)
    return cfg


@pytest.fixture(scope="session")
def champion(local_stack: Settings) -> DatasetConfig:
    """The durable dataset with a champion, and one landed batch ingested, scored and monitored by automation.

    Once per session: its landed object is ingested once, so a second build would wait for runs that never come.
    """
    with stack_api(local_stack):
        cfg = champion_dataset(DURABLE_DATASET, "credit-risk-durable", seed=300)
        _, since = land_one(cfg, seed=310)
        wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": cfg.name})
    return cfg
