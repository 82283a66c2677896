"""The data contract: load a dataset's Pandera model, validate frames against it, derive the feature columns.

Ingest, train, score and monitor all go through here, so training and serving cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from tasks.platform.errors import ConfigurationError, ContractViolation
from tasks.platform.specs import DatasetFields

MAX_FAILURE_SAMPLES = 20


@dataclass(frozen=True)
class Columns:
    """The columns of a dataset, as the contract and the dataset block define them."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    id: str
    event_time: str | None

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def load_contract(import_path: str) -> type[pa.DataFrameModel]:
    """Import `package.module:ClassName` and check it is a Pandera polars DataFrameModel."""
    module_name, _, class_name = import_path.partition(":")
    try:
        contract = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"cannot import contract {import_path!r}: {exc}") from exc
    if not (isinstance(contract, type) and issubclass(contract, pa.DataFrameModel)):
        raise ConfigurationError(f"{import_path!r} is not a pandera.polars DataFrameModel")
    return contract


def columns_of(spec: DatasetFields) -> Columns:
    """Split the contract's columns into numeric and categorical features, target, id and event time."""
    schema = load_contract(spec.contract).to_schema()
    declared = set(schema.columns)
    named = {spec.target, spec.id_column, *([spec.event_time_column] if spec.event_time_column else [])}
    missing = (named | set(spec.categorical_columns)) - declared
    if missing:
        raise ConfigurationError(f"dataset names columns its contract does not declare: {sorted(missing)}")
    features = [c for c in schema.columns if c not in named]
    categorical = tuple(c for c in features if c in spec.categorical_columns or _is_flag(schema.columns[c]))
    numeric = tuple(c for c in features if c not in categorical)
    return Columns(numeric, categorical, spec.target, spec.id_column, spec.event_time_column)


def validate(frame: pl.DataFrame, contract: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Return the frame coerced to the contract, or raise ContractViolation summarising every failure."""
    try:
        validated: pl.DataFrame = contract.validate(frame, lazy=True)
    except SchemaErrors as exc:
        summary = summarise_failures(exc.failure_cases, frame.height)
        raise ContractViolation(_describe(summary), summary) from exc
    except SchemaError as exc:  # raised eagerly for some schema-level problems even with lazy=True
        cases = exc.failure_cases if isinstance(exc.failure_cases, pl.DataFrame) else pl.DataFrame()
        summary = summarise_failures(cases, frame.height, fallback=str(exc))
        raise ContractViolation(_describe(summary), summary) from exc
    return validated


def summarise_failures(cases: pl.DataFrame, rows: int, fallback: str | None = None) -> dict[str, Any]:
    """Counts per check and column, and a bounded sample of failure cases: small enough for events and JSON."""
    if cases.is_empty():
        return {
            "rows": rows,
            "failures": 1,
            "checks": [{"check": fallback or "unknown", "column": None, "count": 1}],
            "samples": [],
        }
    # A frame-wide coercion failure names the check with the whole dtype map; the columns' own rows say which.
    check = pl.col("check").cast(pl.String).str.replace(r"^coerce_dtype\(.*\)$", "coerce_dtype")
    cases = cases.with_columns(pl.col("column").cast(pl.String), check)
    checks = cases.group_by("check", "column").len("count").sort(["count", "check"], descending=[True, False])
    samples = cases.select("column", "check", pl.col("failure_case").cast(pl.String), "index")
    return {
        "rows": rows,
        "failures": cases.height,
        "checks": checks.to_dicts(),
        "samples": samples.head(MAX_FAILURE_SAMPLES).to_dicts(),
    }


def _describe(summary: dict[str, Any]) -> str:
    parts = [f"{c['check']} on {c['column']} ({c['count']})" for c in summary["checks"][:8]]
    return f"{summary['failures']} contract failures in {summary['rows']} rows: " + "; ".join(parts)


def _is_flag(column: Any) -> bool:
    return str(column.dtype) in {"Boolean", "bool"}
