"""Ingest's writes: lake or quarantine one object exactly once, ledger it, announce it.

Every write is conditional (If-None-Match), and the first writer of the batch metadata, errors.json or ledger record
decides what a key's outcome is, so retried, concurrent and duplicated ingests agree and never write twice. A write
that this call made is not read back: what it wrote is what stands.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from tasks.data import failures
from tasks.data.ingest import IngestOutcome, artifact_rows, error_report, violation_summary
from tasks.data.lake import BatchMeta, batch_id_for, failure_key, landing_prefix, ledger_key, quarantine_prefix
from tasks.data.lake_io import write_batch
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import json_bytes, sha256
from tasks.platform.errors import ContractViolation, CorruptObject, PoisonObject
from tasks.platform.events import BATCH_INGESTED, BATCH_QUARANTINED, batch_resource, deterministic_id, emit
from tasks.platform.retry import io_task
from tasks.platform.store import Store

REFUSED_FOR_GOOD = {400, 404}


@io_task
def store_batch(store: Store, meta: BatchMeta, data: bytes) -> IngestOutcome:
    """Write data and metadata once; the key named in the surviving metadata is the ingest, others are duplicates."""
    first = write_batch(store, meta, data)
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
    store: Store, dataset: str, key: str, body: bytes | None, digest: str, exc: ContractViolation | CorruptObject
) -> IngestOutcome:
    """Copy the object and its errors.json under quarantine/<dataset>/<batch_id>/, once per distinct content (an
    object the store will not hand out, `body` None, is recorded without its copy)."""
    batch_id = batch_id_for(digest)
    prefix = quarantine_prefix(dataset, batch_id)
    summary = violation_summary(exc)
    reason = f"{_kind(exc)}: {exc}"
    report = json_bytes(error_report(key, batch_id, reason, summary))
    wrote = store.put_if_absent(prefix + "errors.json", report)
    first_key = key if wrote else str(store.get_json(prefix + "errors.json")["key"])
    if first_key == key and body is not None:
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


def _kind(exc: ContractViolation | CorruptObject) -> str:
    if isinstance(exc, ContractViolation):
        return "contract violation"
    return "poison object" if isinstance(exc, PoisonObject) else "corrupt object"


@io_task
def record_failure(store: Store, dataset: str, key: str, error: str, attempt: str) -> IngestOutcome:
    """Count one more unexpected failure of the object (once per attempt); after the last one allowed, quarantine
    it with the error instead, so it stops being retried."""
    previous = store.get_json_if_exists(failure_key(dataset, key))
    known = None if previous is None else failures.IngestFailure.model_validate(previous)
    failure = failures.next_failure(known, key, error, datetime.now(UTC), attempt)
    store.put(failure_key(dataset, key), json_bytes(failure.model_dump(mode="json")))
    if failures.given_up(failure):
        body = _body_if_served(store, key)
        digest = sha256(body) if body is not None else sha256(f"unserved:{key}".encode())
        poison = PoisonObject(f"ingest failed {failure.attempts} times; last error: {error}")
        decided = quarantine(store, dataset, key, body, digest, poison)
        return settle(store, dataset, decided.model_copy(update={"writer": attempt, "attempts": failure.attempts}))
    return IngestOutcome(
        key=key,
        outcome="failed",
        batch_id="",
        sha256="",
        reason=error,
        attempts=failure.attempts,
        next_attempt_at=failure.next_attempt_at,
    )


def _body_if_served(store: Store, key: str) -> bytes | None:
    """The object, or None when the store refuses that object for good (400: sealed with a customer key, say; 404:
    gone), which is often why ingest kept failing: it is then quarantined without a copy rather than failing the sweep
    forever. Anything else (credentials, access, the network) raises: the object may be fine."""
    try:
        return store.get(key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in REFUSED_FOR_GOOD:
            return None
        raise


@io_task
def settle(store: Store, dataset: str, decided: IngestOutcome) -> IngestOutcome:
    """Write the ledger record once; only the writer announces the outcome (event + artifact)."""
    record = decided.model_copy(update={"at": datetime.now(UTC)})
    key = ledger_key(dataset, decided.key)
    if store.put_if_absent(key, json_bytes(record.model_dump(mode="json"))):
        existing = record
    else:
        existing = IngestOutcome.model_validate(store.get_json(key))
        if existing.writer != record.writer:  # a retry whose first write landed still counts as ours
            return already_handled(existing)
    announce(dataset, existing)
    return existing


def announce(dataset: str, outcome: IngestOutcome) -> None:
    """The batch event (ingested or quarantined; duplicates stay quiet) and the keyed decision artifact."""
    resource = batch_resource(dataset, outcome.batch_id)
    base: dict[str, object] = {"dataset": dataset, "batch_id": outcome.batch_id, "key": outcome.key}
    # Ids fixed by the decision: a retried announcement is dropped by the server, not scored twice.
    if outcome.outcome == "ingested":
        payload = base | {"rows": outcome.rows, "labelled_rows": outcome.labelled_rows}
        emit(BATCH_INGESTED, resource, payload, event_id=deterministic_id("ingested", dataset, outcome.batch_id))
    elif outcome.outcome == "quarantined":
        payload = base | {"reason": outcome.reason, "failures": outcome.failures, "errors_uri": outcome.errors_uri}
        event_id = deterministic_id("quarantined", dataset, outcome.key, outcome.sha256)
        emit(BATCH_QUARANTINED, resource, payload, event_id=event_id)
    description = f"ingest of {outcome.key}: {outcome.outcome} (batch {outcome.batch_id})"
    publish_table("ingest", dataset, artifact_rows(outcome), description)


def already_handled(previous: IngestOutcome, digest_now: str | None = None) -> IngestOutcome:
    """The ledger's outcome, again; if the object under the key changed since (a fix uploaded under the same name),
    saying so and what to do: a key is read once, so its ledger stays the truth about what was ingested."""
    reason = f"ledger says {previous.outcome}"
    changed = digest_now is not None and digest_now != previous.sha256
    if digest_now is not None and changed:
        reason += (
            f"; the object under this key changed since (sha256 {previous.sha256[:12]}… now {digest_now[:12]}…) and "
            "is not read again: upload the fix under a new name"
        )
    return previous.model_copy(update={"outcome": "already_handled", "reason": reason, "changed_since": changed})
