"""Ingest's pure parts: parse a landed object, describe a batch, build the quarantine report and the run's verdict."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel

from tasks.data.lake import BatchMeta
from tasks.platform.codec import parquet_bytes
from tasks.platform.contract import Columns
from tasks.platform.errors import ContractViolation, CorruptObject, PoisonObject

Outcome = Literal["ingested", "quarantined", "duplicate", "already_handled", "failed"]
PARQUET_MAGIC = b"PAR1"


class IngestOutcome(BaseModel):
    """What ingest did with one landed object; also the body of its ledger record."""

    key: str
    outcome: Outcome
    batch_id: str
    sha256: str
    rows: int = 0
    labelled_rows: int = 0
    reason: str | None = None
    failures: int = 0
    errors_uri: str | None = None
    duplicate_of: str | None = None  # the landing key that brought these bytes first
    attempts: int = 0  # failed: how many times ingesting it failed so far
    next_attempt_at: datetime | None = None  # failed: when the scheduled sweep tries it again
    at: datetime | None = None
    writer: str | None = None  # which ingest attempt wrote the ledger record, so its own retry recognises it
    changed_since: bool = False  # already handled, and the object under the key is no longer what was handled


def parse_object(key: str, body: bytes) -> pl.DataFrame:
    """Read a landed object as parquet (by extension or magic bytes) or CSV (all text); anything unreadable is
    CorruptObject."""
    if not body:
        raise CorruptObject(f"{key} is empty")
    as_parquet = is_parquet(key, body)
    try:
        if as_parquet:
            return pl.read_parquet(io.BytesIO(body))
        # Every CSV column as text: inferred types lose leading zeros and fail on a float after integral first rows.
        # `conform` types them as the contract declares.
        return pl.read_csv(io.BytesIO(body), infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        kind = "parquet" if as_parquet else "CSV"
        raise CorruptObject(f"{key} is not readable {kind}: {type(exc).__name__}: {exc}") from exc


def is_parquet(key: str, body: bytes) -> bool:
    return key.endswith(".parquet") or body[:4] == PARQUET_MAGIC


def lake_parquet(key: str, body: bytes, parsed: pl.DataFrame, validated: pl.DataFrame) -> bytes:
    """The lake's data.parquet: the landed parquet as it is when validation changed nothing it decodes to (same
    columns, dtypes and values: nothing coerced or filled), else the validated frame written afresh. Writing an
    unchanged frame again would cost about as much as validating it, to store the same rows."""
    if is_parquet(key, body) and validated.schema == parsed.schema and validated.equals(parsed):
        return body
    return parquet_bytes(validated)


def violation_summary(exc: ContractViolation | CorruptObject) -> dict[str, Any]:
    """The failing checks of a violation; an unreadable object counts as one failed `readable` check, a poison object
    (whose ingest kept failing) as one failed `ingest_attempts` check."""
    if isinstance(exc, ContractViolation):
        return exc.summary
    check = "ingest_attempts" if isinstance(exc, PoisonObject) else "readable"
    return {"rows": 0, "failures": 1, "checks": [{"check": check, "column": None, "count": 1}], "samples": []}


def batch_meta(
    dataset: str, key: str, digest: str, batch_id: str, frame: pl.DataFrame, columns: Columns, at: datetime
) -> BatchMeta:
    """The lake metadata of a validated frame: row counts and the event-time span."""
    event_time = frame.get_column(columns.event_time) if columns.event_time else None
    return BatchMeta(
        dataset=dataset,
        batch_id=batch_id,
        source_key=key,
        sha256=digest,
        rows=frame.height,
        labelled_rows=frame.height - frame.get_column(columns.target).null_count(),
        ingested_at=at,
        event_time_min=event_time.min() if event_time is not None else None,
        event_time_max=event_time.max() if event_time is not None else None,
    )


def error_report(key: str, batch_id: str, reason: str, summary: dict[str, Any]) -> dict[str, Any]:
    """errors.json: which object, why, which checks failed on which columns how often, and a bounded sample."""
    return {
        "key": key,
        "batch_id": batch_id,
        "reason": reason,
        "rows": summary["rows"],
        "failures": summary["failures"],
        "checks": summary["checks"],
        "samples": summary["samples"],
        "to_fix": f"correct the file and upload it under a new name: {key} has its ledger outcome and is not read "
        "again, even if it is overwritten",
    }


def artifact_rows(outcome: IngestOutcome) -> list[dict[str, Any]]:
    """One table row per field, plain Python values only (artifacts reject numpy scalars)."""
    return [{"field": name, "value": str(value)} for name, value in outcome.model_dump(mode="json").items()]
