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
from typing import Any

import polars as pl

from tasks.serving.checks import PREDICATES

ROWS_AT_MOST = 256  # beyond this, one polars pass is the cheaper way
ISO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")  # the first of contract.ISO_FORMATS
INT64 = (-(2**63), 2**63 - 1)


def _integer(value: Any) -> Any:
    return value if type(value) is int and INT64[0] <= value <= INT64[1] else _REFUSE


def _real(value: Any) -> Any:
    return float(value) if type(value) in (int, float) else _REFUSE


def _flag(value: Any) -> Any:
    return value if type(value) is bool else _REFUSE


def _text(value: Any) -> Any:
    return value if type(value) is str else _REFUSE


def _naive_time(value: Any) -> Any:
    if type(value) is not str or not ISO_SECONDS.fullmatch(value):
        return _REFUSE
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _REFUSE


_REFUSE = object()  # "not here": the polars way decides


def converter(dtype: pl.DataType) -> Callable[[Any], Any] | None:
    """How a JSON value becomes a value of `dtype` when it plainly is one; None for a dtype left to polars."""
    if dtype.is_integer() and dtype == pl.Int64:
        return _integer
    if dtype in (pl.Float64, pl.Float32):
        return _real
    if dtype == pl.Boolean:
        return _flag
    if dtype == pl.String:
        return _text
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return _naive_time
    return None


class Column:
    """One column's conversion and checks on Python values."""

    def __init__(self, name: str, dtype: pl.DataType, nullable: bool, unique: bool, checks: list[Any]) -> None:
        self.name, self.nullable, self.unique = name, nullable, unique
        self.convert = converter(dtype)
        self.predicates = [(PREDICATES[c.name](**c._check_kwargs), c.ignore_na) for c in checks if c.name in PREDICATES]
        self.known = (
            self.convert is not None and len(self.predicates) == len(checks) and not any(c.element_wise for c in checks)
        )

    def accepts(self, values: list[Any]) -> list[Any] | None:
        assert self.convert is not None
        convert = self.convert
        converted = [None if value is None else convert(value) for value in values]
        present = [value for value in converted if value is not None]
        if any(value is _REFUSE for value in present):
            return None
        if len(present) < len(converted) and (not self.nullable or not all(ignore for _, ignore in self.predicates)):
            return None
        if not all(passes(present) for passes, _ in self.predicates):
            return None
        if self.unique and len(set(converted)) != len(converted):
            return None
        return converted


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
        keys = records[0].keys()
        if any(record.keys() != keys for record in records) or not self.required <= keys <= self.columns.keys():
            return None
        present = [name for name in self.columns if name in keys or name == self.target]
        typed: dict[str, list[Any]] = {}
        for name in present:
            values = self.columns[name].accepts([record.get(name) for record in records])
            if values is None:
                return None
            typed[name] = values
        if self.custom and not self._custom_pass(typed):
            return None
        return typed

    def _custom_pass(self, typed: dict[str, list[Any]]) -> bool:
        """The dataframe-wide checks: one select over the columns they read (a null fails, as in the polars way)."""
        if not set(self.roots) <= typed.keys():
            return False
        frame = pl.DataFrame({r: typed[r] for r in self.roots}, schema={r: self.dtypes[r] for r in self.roots})
        return bool(frame.select(self.passes).to_series().all())


def _instance(dtype: Any) -> pl.DataType:
    instance: pl.DataType = dtype() if isinstance(dtype, type) else dtype
    return instance
