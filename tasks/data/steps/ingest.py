"""Ingest's I/O: find landed objects, read each one and decide whether it goes to the lake or to quarantine.

Each object and each dataset is handled in isolation: an unexpected failure on one is recorded (tasks.data.failures)
and the run goes on to the next. The writes that follow a decision, each exactly once, are in `ingest_write`.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from datetime import UTC, datetime

import pandera.polars as pa
import polars as pl
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from blocks import names
from blocks.models import StorageLocation
from tasks.data import failures
from tasks.data.conformance import conform
from tasks.data.ingest import IngestOutcome, batch_meta, lake_parquet, parse_object
from tasks.data.lake import batch_id_for, ledger_key
from tasks.data.steps.ingest_write import already_handled, quarantine, record_failure, settle, store_batch
from tasks.platform.codec import sha256
from tasks.platform.config import load_block, load_spec
from tasks.platform.contract import Columns, columns_of, load_contract
from tasks.platform.errors import ConfigurationError, ContractViolation, CorruptObject, IngestFailures
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


@step_task
def ingest_object(dataset: str, key: str) -> IngestOutcome:
    """Lake or quarantine one landed object, unless its ledger record says it was already handled; an unexpected
    failure (a polars panic included) is recorded and returned as `failed`, so the run goes on to the next object.
    A dataset block or contract that cannot be loaded is a ConfigurationError: that needs a person, not a retry."""
    attempt = uuid.uuid4().hex  # fixed across record_failure's retries: a failure is counted once
    try:
        return _ingest(dataset, key)
    except ConfigurationError:
        raise
    except (Exception, pl.exceptions.PanicException) as exc:  # PanicException is a BaseException
        return record_failure(load_intake(dataset).store, dataset, key, failures.describe(exc), attempt)


def _ingest(dataset: str, key: str) -> IngestOutcome:
    intake = load_intake(dataset)
    previous = read_ledger(intake.store, dataset, key)
    if previous is not None:  # only a named key gets here (the sweep skips settled keys): one GET to compare
        return already_handled(previous, sha256(read_object(intake.store, key)) if intake.store.exists(key) else None)
    body = read_object(intake.store, key)
    digest = sha256(body)
    try:
        parsed = parse_object(key, body)
        frame = conform(parsed, intake.contract, intake.columns.id)
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


def verdict(outcomes: list[IngestOutcome], skipped: dict[str, str] | None = None) -> State[list[IngestOutcome]]:
    """Completed with the counts, or Failed naming every quarantined or failed key and every skipped dataset, and why.

    The outcomes ride as the Completed state's data, or on the Failed state's `IngestFailures` exception: a Failed
    state's data must be an exception, or reading its result fails with a TypeError instead of the message.
    """
    kinds = ("ingested", "quarantined", "failed", "duplicate")
    counts = {name: sum(o.outcome == name for o in outcomes) for name in kinds}
    handled = sum(o.outcome == "already_handled" for o in outcomes)
    message = ", ".join(f"{counts[name]} {name}" for name in kinds) + f", {handled} already handled"
    problems = [f"Quarantined {o.key}: {o.reason}" for o in outcomes if o.outcome == "quarantined"]
    problems += [
        f"Failed {o.key} ({o.attempts} of {failures.MAX_ATTEMPTS} attempts, next after "
        f"{o.next_attempt_at:%H:%M:%S} UTC): {o.reason}"
        for o in outcomes
        if o.outcome == "failed" and o.next_attempt_at is not None
    ]
    problems += [f"Not read again {o.key}: {o.reason}" for o in outcomes if o.changed_since]
    problems += [f"Skipped dataset {name!r}: {why}" for name, why in (skipped or {}).items()]
    if problems:
        failure = f"{message}. " + "; ".join(problems)
        return Failed(message=failure, data=IngestFailures(failure, outcomes))
    return Completed(message=message, data=outcomes)
