"""Conforming a parsed frame to its contract, pure: text typed as declared, then validated, with every failure
reported together and each sample naming its row by number and by the dataset's id column."""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl

from tasks.platform.contract import MAX_FAILURE_SAMPLES, type_text, validate
from tasks.platform.errors import ContractViolation


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
