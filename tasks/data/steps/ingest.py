"""Ingest's I/O: find landed objects, read each one and decide whether it goes to the lake or to quarantine.

The writes that follow the decision, each exactly once, are in `tasks.ingest_write`.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from datetime import UTC, datetime

import pandera.polars as pa
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from blocks import names
from blocks.models import StorageLocation
from tasks.data.ingest import IngestOutcome, batch_meta, conform, lake_parquet, parse_object
from tasks.data.lake import batch_id_for, landing_prefix, ledger_key
from tasks.data.steps.ingest_write import already_handled, quarantine, settle, store_batch
from tasks.platform.codec import sha256
from tasks.platform.config import EVERY_DATASET, dataset_names, load_block, load_spec
from tasks.platform.contract import Columns, columns_of, load_contract
from tasks.platform.errors import ConfigurationError, ContractViolation, CorruptObject, Quarantined
from tasks.platform.retry import io_task, step_task
from tasks.platform.store import Store, open_store

__all__ = ["IngestOutcome"]  # re-exported: flows import steps only


@dataclass(frozen=True)
class Intake:
    """What ingest needs of a dataset: its name, store, contract and columns (of the five blocks, two)."""

    name: str
    store: Store
    contract: type[pa.DataFrameModel]
    columns: Columns


def load_intake(dataset: str) -> Intake:
    """Load the dataset block here while the storage block loads and its S3 client is built in a helper thread
    (in a copy of this context, so it talks to the same Prefect API); a missing dataset block is a
    ConfigurationError."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        store = pool.submit(copy_context().run, lambda: open_store(load_block(StorageLocation, names.STORAGE)))
        spec = load_spec(dataset)
        return Intake(dataset, store.result(), load_contract(spec.contract), columns_of(spec))


@io_task
def pending_objects(dataset: str, key: str = "") -> list[tuple[str, str]]:
    """`(dataset, key)` for the one key given, else for every object under landing/<dataset>/ (of every dataset,
    for `*`) that has no ledger record yet."""
    if key:
        if dataset == EVERY_DATASET or not key.startswith(landing_prefix(dataset)):
            raise ConfigurationError(f"{key!r} is not under {landing_prefix(dataset)!r}")
        return [(dataset, key)]
    return [(name, landed) for name in dataset_names(dataset) for landed in _unledgered(name)]


def _unledgered(dataset: str) -> list[str]:
    store = load_intake(dataset).store
    handled = set(store.list_keys(f"lake/{dataset}/ledger/"))
    return [k for k in store.list_keys(landing_prefix(dataset)) if ledger_key(dataset, k) not in handled]


@step_task
def ingest_object(dataset: str, key: str) -> IngestOutcome:
    """Lake or quarantine one landed object, unless its ledger record says it was already handled."""
    intake = load_intake(dataset)
    previous = read_ledger(intake.store, dataset, key)
    if previous is not None:
        return already_handled(previous)
    body = read_object(intake.store, key)
    digest = sha256(body)
    try:
        parsed = parse_object(key, body)
        frame = conform(parsed, intake.contract)
    except (ContractViolation, CorruptObject) as exc:
        decided = quarantine(intake.store, dataset, key, body, digest, exc)
    else:
        meta = batch_meta(dataset, key, digest, batch_id_for(digest), frame, intake.columns, datetime.now(UTC))
        decided = store_batch(intake.store, meta, lake_parquet(key, body, parsed, frame))
    decided = decided.model_copy(update={"writer": uuid.uuid4().hex})  # fixed across settle's retries
    settled: IngestOutcome = settle(intake.store, dataset, decided)
    return settled


@io_task
def read_ledger(store: Store, dataset: str, key: str) -> IngestOutcome | None:
    record = store.get_json_if_exists(ledger_key(dataset, key))
    return None if record is None else IngestOutcome.model_validate(record)


@io_task
def read_object(store: Store, key: str) -> bytes:
    return store.get(key)


def verdict(outcomes: list[IngestOutcome]) -> State[list[IngestOutcome]]:
    """Completed with the counts, or Failed naming every quarantined key and why.

    The outcomes ride as the Completed state's data, or on the Failed state's `Quarantined` exception: a Failed
    state's data must be an exception, or reading its result fails with a TypeError instead of the message.
    """
    counts = {name: sum(o.outcome == name for o in outcomes) for name in ("ingested", "quarantined", "duplicate")}
    handled = sum(o.outcome == "already_handled" for o in outcomes)
    message = (
        f"{counts['ingested']} ingested, {counts['quarantined']} quarantined, "
        f"{counts['duplicate']} duplicate, {handled} already handled"
    )
    quarantined = [o for o in outcomes if o.outcome == "quarantined"]
    if quarantined:
        named = "; ".join(f"{o.key}: {o.reason}" for o in quarantined)
        failure = f"{message}. Quarantined {named}"
        return Failed(message=failure, data=Quarantined(failure, outcomes))
    return Completed(message=message, data=outcomes)
