"""Ingest's I/O: find landed objects, then lake or quarantine each one exactly once, ledger it, announce it.

Every write is conditional (If-None-Match), and the first writer of the batch metadata, errors.json or ledger record
decides what a key's outcome is, so retried, concurrent and duplicated ingests agree and never write twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import polars as pl
from prefect.artifacts import create_table_artifact

from tasks.config import EVERY_DATASET, DatasetConfig, dataset_names, load_dataset
from tasks.errors import ConfigurationError, ContractViolation, CorruptObject
from tasks.events import BATCH_INGESTED, BATCH_QUARANTINED, batch_resource, emit
from tasks.ingest import (
    IngestOutcome,
    artifact_key,
    artifact_rows,
    batch_meta,
    conform,
    error_report,
    parse_object,
    violation_summary,
)
from tasks.lake import BatchMeta, batch_id_for, landing_prefix, ledger_key, meta_key, quarantine_prefix, write_batch
from tasks.retry import io_task, step_task
from tasks.storage import Store, json_bytes, sha256


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
    store = load_dataset(dataset).store
    handled = set(store.list_keys(f"lake/{dataset}/ledger/"))
    return [k for k in store.list_keys(landing_prefix(dataset)) if ledger_key(dataset, k) not in handled]


@step_task
def ingest_object(dataset: str, key: str) -> IngestOutcome:
    """Lake or quarantine one landed object, unless its ledger record says it was already handled."""
    config = load_dataset(dataset)
    previous = read_ledger(config.store, dataset, key)
    if previous is not None:
        return _already_handled(previous)
    body = read_object(config.store, key)
    digest = sha256(body)
    try:
        frame = conform(parse_object(key, body), config.contract)
    except (ContractViolation, CorruptObject) as exc:
        decided = quarantine(config.store, dataset, key, body, digest, exc)
    else:
        meta = batch_meta(dataset, key, digest, batch_id_for(digest), frame, config.columns, datetime.now(UTC))
        decided = store_batch(config.store, meta, frame)
    settled: IngestOutcome = settle(config, decided.model_copy(update={"writer": uuid.uuid4().hex}))  # fixed on retries
    return settled


@io_task
def read_ledger(store: Store, dataset: str, key: str) -> IngestOutcome | None:
    record = ledger_key(dataset, key)
    return IngestOutcome.model_validate(store.get_json(record)) if store.exists(record) else None


@io_task
def read_object(store: Store, key: str) -> bytes:
    return store.get(key)


@io_task
def store_batch(store: Store, meta: BatchMeta, frame: pl.DataFrame) -> IngestOutcome:
    """Write data and metadata once; the key named in the surviving metadata is the ingest, others are duplicates."""
    write_batch(store, meta, frame)
    first = BatchMeta.model_validate(store.get_json(meta_key(meta.dataset, meta.batch_id)))
    return IngestOutcome(
        key=meta.source_key,
        outcome="ingested" if first.source_key == meta.source_key else "duplicate",
        batch_id=meta.batch_id,
        sha256=meta.sha256,
        rows=first.rows,
        labelled_rows=first.labelled_rows,
        duplicate_of=None if first.source_key == meta.source_key else first.source_key,
    )


@io_task
def quarantine(
    store: Store, dataset: str, key: str, body: bytes, digest: str, exc: ContractViolation | CorruptObject
) -> IngestOutcome:
    """Copy the object and its errors.json under quarantine/<dataset>/<batch_id>/, once per distinct content."""
    batch_id = batch_id_for(digest)
    prefix = quarantine_prefix(dataset, batch_id)
    summary = violation_summary(exc)
    reason = f"{'contract violation' if isinstance(exc, ContractViolation) else 'corrupt object'}: {exc}"
    store.put_if_absent(prefix + "errors.json", json_bytes(error_report(key, batch_id, reason, summary)))
    first_key = str(store.get_json(prefix + "errors.json")["key"])
    if first_key == key:
        store.put_if_absent(prefix + key.removeprefix(landing_prefix(dataset)), body)
    return IngestOutcome(
        key=key,
        outcome="quarantined" if first_key == key else "duplicate",
        batch_id=batch_id,
        sha256=digest,
        rows=summary["rows"],
        reason=reason,
        failures=summary["failures"],
        errors_uri=store.uri(prefix + "errors.json"),
        duplicate_of=None if first_key == key else first_key,
    )


@io_task
def settle(config: DatasetConfig, decided: IngestOutcome) -> IngestOutcome:
    """Write the ledger record once; only the writer announces the outcome (event + artifact)."""
    record = decided.model_copy(update={"at": datetime.now(UTC)})
    key = ledger_key(config.name, decided.key)
    wrote = config.store.put_if_absent(key, json_bytes(record.model_dump(mode="json")))
    existing = IngestOutcome.model_validate(config.store.get_json(key))
    if not wrote and existing.writer != record.writer:  # a retry whose first write landed still counts as ours
        return _already_handled(existing)
    announce(config.name, existing)
    return existing


def announce(dataset: str, outcome: IngestOutcome) -> None:
    """The batch event (ingested or quarantined; duplicates stay quiet) and the keyed decision artifact."""
    resource = batch_resource(dataset, outcome.batch_id)
    base = {"dataset": dataset, "batch_id": outcome.batch_id, "key": outcome.key}
    if outcome.outcome == "ingested":
        emit(BATCH_INGESTED, resource, base | {"rows": outcome.rows, "labelled_rows": outcome.labelled_rows})
    elif outcome.outcome == "quarantined":
        payload = {"reason": outcome.reason, "failures": outcome.failures, "errors_uri": outcome.errors_uri}
        emit(BATCH_QUARANTINED, resource, base | payload)
    create_table_artifact(
        artifact_rows(outcome),
        key=artifact_key(dataset, outcome.batch_id),
        description=f"ingest of {outcome.key}: {outcome.outcome}",
    )


def _already_handled(previous: IngestOutcome) -> IngestOutcome:
    return previous.model_copy(update={"outcome": "already_handled", "reason": f"ledger says {previous.outcome}"})
