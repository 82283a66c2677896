"""The simulator's I/O: put planned objects into landing/ (never over different bytes) and announce each one."""

from __future__ import annotations

from tasks.data.lake import landing_prefix
from tasks.data.simulate import BatchPlan, Scenario, generator_for, plan_batches, render_batch
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import sha256
from tasks.platform.config import dataset_named, load_dataset
from tasks.platform.errors import ConfigurationError
from tasks.platform.events import BATCH_LANDED, batch_resource, emit
from tasks.platform.retry import io_task, step_task
from tasks.platform.store import Store

__all__ = ["Scenario", "dataset_named"]  # re-exported: flows import steps only


@step_task
def plan(dataset: str, scenario: Scenario, batches: int, seed: int, first_day: int) -> list[BatchPlan]:
    """Check the dataset can be simulated (its contract module has `generate`), then plan the scenario's objects."""
    generator_for(load_dataset(dataset).spec.contract)
    return plan_batches(scenario, batches, seed, first_day)


@step_task
def land(dataset: str, batch: BatchPlan, rows: int, scenario: Scenario) -> str:
    """Draw one planned object, put it under landing/<dataset>/ and emit `driftloop.batch.landed`; return its key."""
    config = load_dataset(dataset)
    body = render_batch(generator_for(config.spec.contract), batch, rows, config.contract, config.columns)
    key = landing_prefix(dataset) + batch.name
    put_landed(config.store, key, body)
    emit(BATCH_LANDED, batch_resource(dataset, batch.name), {"dataset": dataset, "key": key, "scenario": scenario})
    return key


@io_task
def put_landed(store: Store, key: str, body: bytes) -> None:
    """Write `body` at `key` once; the same bytes again is fine, different bytes under a used key are refused."""
    if store.put_if_absent(key, body):
        return
    if sha256(store.get(key)) != sha256(body):
        raise ConfigurationError(f"{key} already holds different bytes; landing objects are never overwritten")


@step_task
def record_landed(dataset: str, scenario: Scenario, keys: list[str]) -> None:
    """A keyed artifact listing what this run landed."""
    rows = [{"dataset": dataset, "scenario": scenario, "key": key} for key in keys]
    publish_table("simulate", dataset, rows, f"{len(keys)} object(s) landed for scenario {scenario}")
