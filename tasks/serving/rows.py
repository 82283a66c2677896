"""The contract on a few records, in plain Python (pure): the fast way to accept a small request.

A polars select costs about a millisecond however few its rows, and a contract needs two or three: more than all the
rest of a one-record request. So small requests are first tried here, value by value, with the contract's own
checks (checks.PREDICATES). This path only ever *accepts*: a value of any but the plain JSON type its column
declares, a null where none may be, a failed check, anything it does not know, and the request goes the polars way
(validation.RequestContract), which decides and names every failure. Accepting only what that way accepts, with the
same values, is tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import polars as pl

from tasks.serving.checks import PREDICATES
from tasks.serving.expressions import Undecided, as_array, compile_expression

ROWS_AT_MOST = 256  # beyond this, one polars pass is the cheaper way
ISO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")  # the first of contract.ISO_FORMATS
INT64 = (-(2**63), 2**63 - 1)


def _integers(values: list[Any]) -> list[Any] | None:
    if not set(map(type, values)) <= {int} or min(values) < INT64[0] or max(values) > INT64[1]:
        return None
    return values


def _reals(values: list[Any]) -> list[Any] | None:
    return list(map(float, values)) if set(map(type, values)) <= {int, float} else None


def _flags(values: list[Any]) -> list[Any] | None:
    return values if set(map(type, values)) <= {bool} else None


def _texts(values: list[Any]) -> list[Any] | None:
    return values if set(map(type, values)) <= {str} else None


def _naive_times(values: list[Any]) -> list[Any] | None:
    if not set(map(type, values)) <= {str} or not all(map(ISO_SECONDS.fullmatch, values)):
        return None
    try:
        return list(map(datetime.fromisoformat, values))
    except ValueError:
        return None


def converter(dtype: pl.DataType) -> Callable[[list[Any]], list[Any] | None] | None:
    """How a column's non-null JSON values become values of `dtype` when each plainly is one (else the converter
    gives None); None for a dtype left to polars."""
    if dtype.is_integer() and dtype == pl.Int64:
        return _integers
    if dtype in (pl.Float64, pl.Float32):
        return _reals
    if dtype == pl.Boolean:
        return _flags
    if dtype == pl.String:
        return _texts
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return _naive_times
    return None


class Column:
    """One column's conversion and checks on Python values."""

    def __init__(self, name: str, dtype: pl.DataType, nullable: bool, unique: bool, checks: list[Any]) -> None:
        self.name, self.unique = name, unique
        self.convert = converter(dtype)
        self.predicates = [PREDICATES[c.name](**c._check_kwargs) for c in checks if c.name in PREDICATES]
        self.null_passes = nullable and all(c.ignore_na for c in checks)
        self.known = (
            self.convert is not None and len(self.predicates) == len(checks) and not any(c.element_wise for c in checks)
        )

    def accepts(self, values: list[Any]) -> list[Any] | None:
        assert self.convert is not None
        nulls = None in values
        if nulls and not self.null_passes:
            return None
        present = [value for value in values if value is not None] if nulls else values
        converted = self.convert(present) if present else present
        if converted is None or (present and not all(passes(converted) for passes in self.predicates)):
            return None
        typed = _with_nulls(values, converted) if nulls else converted
        if self.unique and len(set(typed)) != len(typed):
            return None
        return typed


def _with_nulls(values: list[Any], present: list[Any]) -> list[Any]:
    converted = iter(present)
    return [None if value is None else next(converted) for value in values]


class RowContract:
    """The whole contract on plain records; `usable` is False for a contract with anything this path does not know
    (then every request goes the polars way)."""

    def __init__(self, schema: Any, target: str, features: tuple[str, ...], custom: list[pl.Expr | None]) -> None:
        self.target = target
        self.dtypes = {name: _instance(column.dtype.type) for name, column in schema.columns.items()}
        self.columns = {
            name: Column(name, self.dtypes[name], column.nullable, column.unique, column.checks)
            for name, column in schema.columns.items()
        }
        self.required = {name for name, column in schema.columns.items() if column.required} - {target}
        self.custom = [expr for expr in custom if expr is not None]
        # Built once: asking polars for the columns an expression reads, or combining them, costs like running them.
        self.roots = sorted({root for expr in self.custom for root in expr.meta.root_names()})
        self.passes = pl.all_horizontal(self.custom).fill_null(False) if self.custom else pl.lit(True)
        plain = [compile_expression(expr, self.dtypes) for expr in self.custom]
        self.plain = [evaluate for evaluate in plain if evaluate is not None] if None not in plain else None
        numeric_features = all(
            self.dtypes[f].is_numeric() or self.dtypes[f] in (pl.Boolean, pl.String) for f in features
        )
        self.usable = (
            numeric_features and all(e is not None for e in custom) and all(c.known for c in self.columns.values())
        )

    def accept(self, records: list[dict[str, Any]]) -> dict[str, list[Any]] | None:
        """The records' columns typed as declared, if this path can vouch for every value; else None."""
        if not self.usable or not records or len(records) > ROWS_AT_MOST:
            return None
        keys = tuple(records[0])
        same_keys = all(map(keys.__eq__, map(tuple, records)))  # in one order too: else the polars way
        if not same_keys or not self.required <= set(keys) <= self.columns.keys():
            return None
        given = [name for name in self.columns if name in keys]
        # Every record's values at once, column by column: itemgetter and zip loop in C.
        rows = map(itemgetter(*given), records) if len(given) > 1 else ((r[given[0]],) for r in records)
        sent = dict(zip(given, map(list, zip(*rows, strict=True)), strict=True))
        typed: dict[str, list[Any]] = {}
        for name in self.columns:
            values = self.columns[name].accepts(sent[name] if name in sent else [None] * len(records))
            if values is None:
                return None
            if name in sent or name == self.target:
                typed[name] = values
        if self.custom and not self._custom_pass(typed):
            return None
        return typed

    def _custom_pass(self, typed: dict[str, list[Any]]) -> bool:
        """The dataframe-wide checks, in numpy where each compiles to it (tasks.serving.expressions), else in one
        select over the columns they read; a null fails, as in the polars way."""
        if not set(self.roots) <= typed.keys():
            return False
        if self.plain is not None:
            try:
                columns = {r: as_array(typed[r], self.dtypes[r]) for r in self.roots}
                return all(bool(np.all(evaluate(columns))) for evaluate in self.plain)
            except Undecided:
                return False
        frame = pl.DataFrame({r: typed[r] for r in self.roots}, schema={r: self.dtypes[r] for r in self.roots})
        return bool(frame.select(self.passes).to_series().all())


def _instance(dtype: Any) -> pl.DataType:
    instance: pl.DataType = dtype() if isinstance(dtype, type) else dtype
    return instance
