"""Ingest's pure parts: parse a landed object, describe a batch, build the quarantine report and the run's verdict."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Literal

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel

from tasks.data.lake import BatchMeta
from tasks.platform.codec import parquet_bytes
from tasks.platform.contract import MAX_FAILURE_SAMPLES, Columns, type_text, validate
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


def conform(frame: pl.DataFrame, contract: type[pa.DataFrameModel], id_column: str = "") -> pl.DataFrame:
    """Type the frame's text as the contract declares, then validate it; a violation's samples name their rows by
    `id_column` as well as by row number, so a person can find them in their own system."""
    try:
        return _conform(frame, contract)
    except ContractViolation as exc:
        exc.summary["samples"] = _with_row_ids(exc.summary["samples"], frame, id_column)
        raise


def _conform(frame: pl.DataFrame, contract: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Column names and text that does not parse are reported first, together: Pandera's lazy mode still runs
    dataframe-wide checks on a frame missing their columns (polars then raises ColumnNotFoundError instead of a
    report), and Pandera's own coercion of text names the whole frame instead of the column, and then fails every
    other check on that column too."""
    schema = contract.to_schema()
    typed = type_text(frame, schema)
    uncast, samples = _uncast(frame, typed)
    checks = _column_checks(frame, schema) + uncast
    if checks:
        failures = sum(c["count"] for c in checks)
        summary = {"rows": frame.height, "failures": failures, "checks": checks, "samples": samples}
        named = "; ".join(f"{c['check']} on {c['column']} ({c['count']})" for c in checks)
        raise ContractViolation(f"{failures} contract failures in {frame.height} rows: {named}", summary)
    return validate(frame.with_columns(typed) if typed else frame, contract)


def _column_checks(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> list[dict[str, Any]]:
    checks = [
        {"check": "column_in_dataframe", "column": name, "count": 1}
        for name, column in schema.columns.items()
        if column.required and name not in frame.columns
    ]
    if schema.strict is True:
        checks += [
            {"check": "column_in_schema", "column": c, "count": 1} for c in frame.columns if c not in schema.columns
        ]
    return checks


def _uncast(frame: pl.DataFrame, typed: list[pl.Series]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A `coerce_dtype(<type>)` check, with its count, per column whose text did not all parse (a value that was text
    and is null once typed), and a bounded sample of those values with their row numbers."""
    checks: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for parsed in typed:
        text = frame.get_column(parsed.name)
        failed = text.is_not_null() & parsed.is_null()
        count = int(failed.sum())
        if count:
            check = f"coerce_dtype('{parsed.dtype}')"
            checks.append({"check": check, "column": text.name, "count": count})
            rows = failed.arg_true().head(MAX_FAILURE_SAMPLES - len(samples))
            values = text.gather(rows).to_list()
            samples += [
                {"column": text.name, "check": check, "failure_case": v, "index": i}
                for v, i in zip(values, rows.to_list(), strict=True)
            ]
    return checks, samples


def _with_row_ids(samples: list[dict[str, Any]], frame: pl.DataFrame, id_column: str) -> list[dict[str, Any]]:
    if id_column not in frame.columns:
        return samples
    ids = frame.get_column(id_column)
    return [
        sample | {id_column: str(ids[sample["index"]])}
        if isinstance(sample.get("index"), int) and 0 <= sample["index"] < frame.height
        else sample
        for sample in samples
    ]


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
