"""What the contract's checks mean for a request (pure): Pandera's builtin checks as polars expressions and as plain
Python predicates (the same meaning, for a few records), a custom check's expressions where it is one select, and
the failures a refusal lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from pandera.api.polars.types import PolarsData

MAX_ROWS_NAMED = 100  # row indexes listed per failed check


@dataclass(frozen=True)
class Failure:
    column: str | None
    check: str
    rows: list[int]


class RequestRejected(ValueError):
    """Records that break the contract: every failed check with its column and offending row indexes."""

    def __init__(self, failures: list[Failure]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{f.check} on {f.column} (rows {f.rows[:5]})" for f in failures))


BUILTIN: dict[str, Callable[..., pl.Expr]] = {
    "greater_than": lambda c, min_value: c > min_value,
    "greater_than_or_equal_to": lambda c, min_value: c >= min_value,
    "less_than": lambda c, max_value: c < max_value,
    "less_than_or_equal_to": lambda c, max_value: c <= max_value,
    "equal_to": lambda c, value: c == value,
    "not_equal_to": lambda c, value: c != value,
    "isin": lambda c, allowed_values: c.is_in(list(allowed_values)),
    "notin": lambda c, forbidden_values: ~c.is_in(list(forbidden_values)),
    "in_range": lambda c, min_value, max_value, include_min=True, include_max=True: (
        (c >= min_value if include_min else c > min_value) & (c <= max_value if include_max else c < max_value)
    ),
    "str_length": lambda c, min_value=None, max_value=None, exact_value=None: length(
        c, min_value, max_value, exact_value
    ),
}


def length(column: pl.Expr, low: int | None, high: int | None, exact: int | None) -> pl.Expr:
    chars = column.str.len_chars()
    if exact is not None:
        return chars == exact
    return (chars >= (low if low is not None else 0)) & (chars <= high if high is not None else pl.lit(True))


# The same checks on a column's non-null Python values (a null passes or fails by `ignore_na` and nullability), as
# whole-list builtins: min, max, count and set operations loop in C, a generator per value would cost more than the
# rest of a small request. No value is NaN (JSON has none), so min and max order every list totally.
PREDICATES: dict[str, Callable[..., Callable[[list[Any]], bool]]] = {
    "greater_than": lambda min_value: lambda xs: min(xs) > min_value,
    "greater_than_or_equal_to": lambda min_value: lambda xs: min(xs) >= min_value,
    "less_than": lambda max_value: lambda xs: max(xs) < max_value,
    "less_than_or_equal_to": lambda max_value: lambda xs: max(xs) <= max_value,
    "equal_to": lambda value: lambda xs: xs.count(value) == len(xs),
    "not_equal_to": lambda value: lambda xs: xs.count(value) == 0,
    "isin": lambda allowed_values: frozenset(allowed_values).issuperset,
    "notin": lambda forbidden_values: frozenset(forbidden_values).isdisjoint,
    "in_range": lambda min_value, max_value, include_min=True, include_max=True: (
        lambda xs: (
            (min(xs) >= min_value if include_min else min(xs) > min_value)
            and (max(xs) <= max_value if include_max else max(xs) < max_value)
        )
    ),
    "str_length": lambda min_value=None, max_value=None, exact_value=None: (
        lambda xs: _lengths_within(list(map(len, xs)), min_value, max_value, exact_value)
    ),
}


def _lengths_within(lengths: list[int], low: int | None, high: int | None, exact: int | None) -> bool:
    if exact is not None:
        return lengths.count(exact) == len(lengths)
    return (low is None or min(lengths) >= low) and (high is None or max(lengths) <= high)


class _Selection:
    """Stands in for a LazyFrame while a custom check is called, to learn the expressions it selects."""

    def __init__(self) -> None:
        self.expressions: list[pl.Expr] = []

    def select(self, *exprs: Any, **named: pl.Expr) -> _Selection:
        for expr in exprs:
            self.expressions += list(expr) if isinstance(expr, list | tuple) else [expr]
        self.expressions += [expr.alias(name) for name, expr in named.items()]
        return self


def selected_expression(function: Callable[[PolarsData], Any], key: str) -> pl.Expr | None:
    """The one boolean expression a custom check computes, where it is `data.lazyframe.select(...)` of expressions
    (the usual form); None for any other check, which then runs as Pandera runs it."""
    selection = _Selection()
    try:
        out = function(PolarsData(selection, key))  # type: ignore[arg-type]
    except Exception:
        return None
    if (
        out is not selection
        or not selection.expressions
        or not all(isinstance(e, pl.Expr) for e in selection.expressions)
    ):
        return None
    return pl.all_horizontal(selection.expressions)


def failed_rows(failed: pl.Series) -> list[int]:
    return failed.arg_true().head(MAX_ROWS_NAMED).to_list()


def besides(coercions: list[Failure], failures: list[Failure]) -> list[Failure]:
    """`failures` without the nulls that coercion left where a value did not convert: that value is reported once,
    as Pandera reports it, by its coercion."""
    lost = {f.column: set(f.rows) for f in coercions}
    kept = []
    for failure in failures:
        rows = [r for r in failure.rows if r not in lost.get(failure.column, set())]
        if rows or failure.check != "not_nullable":
            kept.append(failure if failure.check != "not_nullable" else Failure(failure.column, failure.check, rows))
    return kept


def failures_of(flags: pl.DataFrame, columns: list[str | None], checks: list[str]) -> list[Failure]:
    """One Failure per flag column with a true row; the common case, nothing failed, costs one numpy reduction."""
    matrix = flags.to_numpy()
    if matrix.size == 0 or not matrix.any():
        return []
    hits = matrix.any(axis=0)
    return [
        Failure(columns[i], checks[i], np.flatnonzero(matrix[:, i])[:MAX_ROWS_NAMED].tolist())
        for i in np.flatnonzero(hits)
    ]
