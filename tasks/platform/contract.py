"""The data contract: load a dataset's Pandera model, type text as it declares, validate frames against it, derive
the feature columns.

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
# ISO 8601 as producers write it, most common first: with seconds (and any fraction), with minutes, a date alone;
# each naive or with an offset (Z, +02:00, +0200).
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M%#z", "%Y-%m-%d")


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
    """Split the contract's columns into numeric and categorical features, target, id and event time; sensitive
    columns are none of these (the slice gates read them from the holdout)."""
    schema = load_contract(spec.contract).to_schema()
    declared = set(schema.columns)
    named = {spec.target, spec.id_column, *([spec.event_time_column] if spec.event_time_column else [])}
    named |= set(spec.sensitive_columns)
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


def type_text(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> list[pl.Series]:
    """The text columns the contract declares, with coercion, as another type (all of a CSV's; a parquet's times or
    numbers written as strings), parsed as that type: null where a value does not parse, so a caller can count the
    failures per column. Only dtypes are compared, so a frame whose types already match costs no pass over its rows."""
    typed = []
    for name, column in schema.columns.items():
        if name not in frame.columns or frame.schema[name] != pl.String or not (schema.coerce or column.coerce):
            continue
        declared = column.dtype.type  # a polars class (Int64) or instance (Datetime('us'))
        if declared.is_nested():  # text cannot hold a list or struct; Pandera reports it
            continue
        parsed = _from_text(frame.get_column(name), declared() if isinstance(declared, type) else declared)
        if parsed is not None:
            typed.append(parsed.alias(name))
    return typed


def typed_expression(name: str, source: pl.DataType, declared: Any) -> pl.Expr:
    """Column `name` (of dtype `source`) as the contract declares it, null where a value does not convert: the
    expression form of `type_text` and Pandera's coercion, for frames small enough that one pass over every format
    costs less than a pass per format (the model server's requests)."""
    target = declared() if isinstance(declared, type) else declared
    column = pl.col(name)
    if source == pl.String and isinstance(target, pl.Datetime):
        iso = column.str.replace(" ", "T", literal=True, n=1)
        return pl.coalesce(
            _zoned(iso.str.to_datetime(fmt, time_unit=target.time_unit, strict=False), "%#z" in fmt, target.time_zone)
            for fmt in ISO_FORMATS
        )
    if source == pl.String and isinstance(target, pl.Boolean):
        return column.str.to_lowercase().replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=target
        )
    if source == pl.String and isinstance(target, pl.Date):
        return column.str.to_date("%Y-%m-%d", strict=False)
    return column.cast(target, strict=False)


def _zoned(parsed: pl.Expr, aware: bool, zone: str | None) -> pl.Expr:
    """`_in_zone` for an expression, whose awareness follows from its format."""
    if aware:
        return parsed.dt.convert_time_zone(zone) if zone else parsed.dt.replace_time_zone(None)
    return parsed.dt.replace_time_zone(zone, ambiguous="null", non_existent="null") if zone else parsed


def _from_text(text: pl.Series, target: pl.DataType) -> pl.Series | None:
    """`text` as `target`, vectorised, null where a value does not parse; None for a type left to Pandera."""
    if isinstance(target, pl.Datetime):
        return _parse_datetime(text, target)
    if isinstance(target, pl.Date):
        return text.str.to_date("%Y-%m-%d", strict=False)
    if isinstance(target, pl.Time):
        return text.str.to_time("%H:%M:%S%.f", strict=False)
    if isinstance(target, pl.Boolean):  # polars casts no text to Boolean; CSV writers spell it true/false
        return text.str.to_lowercase().replace_strict({"true": True, "false": False}, default=None, return_dtype=target)
    if target.is_numeric() or isinstance(target, (pl.Categorical, pl.Enum)):
        return text.cast(target, strict=False)
    return None


def _parse_datetime(text: pl.Series, target: pl.Datetime) -> pl.Series:
    """ISO 8601 text in the target's time unit and zone. The next format is tried only while some values are still
    unparsed, so a column written in one format (the usual case) costs one parse."""
    iso = text.str.replace(" ", "T", literal=True, n=1)  # ISO 8601 lets a space stand for the T

    def attempt(fmt: str) -> pl.Series:
        return _in_zone(iso.str.to_datetime(fmt, time_unit=target.time_unit, strict=False), target.time_zone)

    parsed = attempt(ISO_FORMATS[0])
    for fmt in ISO_FORMATS[1:]:
        if parsed.null_count() == text.null_count():
            break
        parsed = parsed.zip_with(parsed.is_not_null(), attempt(fmt))
    return parsed


def _in_zone(parsed: pl.Series, zone: str | None) -> pl.Series:
    """A time parsed with an offset (polars gives it in UTC) is converted to `zone`, or to naive UTC when the contract
    has none; a naive time is taken to be in `zone` (a local time that does not exist there does not parse)."""
    if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
        return parsed.dt.convert_time_zone(zone) if zone else parsed.dt.replace_time_zone(None)
    return parsed.dt.replace_time_zone(zone, ambiguous="null", non_existent="null") if zone else parsed


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
