"""A dataset's contract compiled for requests (pure): the contract's own checks, evaluated in one polars pass.

Pandera's validate costs tens of milliseconds per call whatever the row count (its backend collects once per check),
which would cap a model server near 25 requests a second. So the server compiles the same contract once: Pandera's
builtin checks become the polars expressions they stand for, any other check (a custom column or dataframe check)
runs through its own function, and types, nullability, uniqueness and the column set are checked as Pandera checks
them. A test holds the verdicts equal to Pandera's. Every failure is reported at once, by column, check and rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandera.backends.polars.builtin_checks  # noqa: F401  (registers the builtin checks' polars functions)
import pandera.polars as pa
import polars as pl
from pandera.api.checks import Check
from pandera.api.polars.types import PolarsData

from tasks.platform.contract import typed_expression
from tasks.serving.checked import Checked
from tasks.serving.checks import (
    BUILTIN,
    Failure,
    RequestRejected,
    besides,
    failed_rows,
    failures_of,
    selected_expression,
)
from tasks.serving.rows import RowContract


@dataclass(frozen=True)
class _Compiled:
    name: str  # the check's name as Pandera reports it
    column: str | None
    expr: pl.Expr | None  # a builtin, evaluated with the others in one select
    function: Callable[[PolarsData], Any] | None  # any other check: its own function
    ignore_na: bool
    reported_as: str | None = None  # the column a failure names (a dataframe-wide check: the contract)


@dataclass(frozen=True)
class _Plan:
    """What checking frames of one schema takes, built once per schema."""

    present: list[str]
    typing: list[pl.Expr]  # each column as declared, and a `lost:<column>` flag per column
    coercions: list[str]
    builtin: list[_Compiled]
    flags: list[pl.Expr]  # true where a builtin check fails
    custom: list[_Compiled]


class RequestContract:
    """The contract of one dataset, ready to check request records; the target may be absent (it is unknown)."""

    def __init__(self, contract: type[pa.DataFrameModel], target: str, features: tuple[str, ...]) -> None:
        self.schema = contract.to_schema()
        self.target = target
        self.dtypes = {name: column.dtype.type for name, column in self.schema.columns.items()}
        # A dataframe-wide check names the contract, as Pandera does.
        self.checks = [*self._column_checks(), *(self._compile(c, None, self.schema.name) for c in self.schema.checks)]
        self._plans: dict[tuple[tuple[str, pl.DataType], ...], _Plan] = {}
        custom = [selected_expression(c.function, c.column or "*") for c in self.checks if c.function is not None]
        self.rows = RowContract(self.schema, target, features, custom)

    def check(self, records: list[dict[str, Any]]) -> Checked:
        """The records typed by the contract, or RequestRejected naming every failure. A few plain records are
        accepted in Python (tasks.serving.rows); anything else, and every refusal, is decided in polars."""
        columns = self.rows.accept(records)
        if columns is not None:
            return Checked(columns=columns, dtypes=self.rows.dtypes)
        frame = self._frame(records)
        failures = self._column_set(frame)
        # The columns there are checked all the same, so one answer names every problem; dataframe-wide checks only
        # run on a complete frame (they may read any column).
        typed, coercions = self._typed(frame.select(c for c in frame.columns if c in self.dtypes))
        failures += coercions + besides(coercions, self._failed_checks(typed, whole=not failures))
        if failures:
            raise RequestRejected(failures)
        return Checked(frame=typed, dtypes=self.rows.dtypes)

    def _frame(self, records: list[dict[str, Any]]) -> pl.DataFrame:
        if not records:
            raise RequestRejected([Failure(None, "at least one record", [])])
        frame = pl.DataFrame(records, strict=False, infer_schema_length=None)
        if self.target not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=self.dtypes[self.target]).alias(self.target))
        return frame

    def _column_set(self, frame: pl.DataFrame) -> list[Failure]:
        missing = [
            Failure(name, "column_in_dataframe", [])
            for name, column in self.schema.columns.items()
            if column.required and name not in frame.columns
        ]
        extra = [Failure(c, "column_in_schema", []) for c in frame.columns if c not in self.dtypes]
        return missing + (extra if self.schema.strict is True else [])

    def _typed(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Failure]]:
        """Text parsed and values cast as declared, in one pass; a value that was there and is null after is a
        coercion failure."""
        plan = self._plan(frame.schema)
        both = frame.select(plan.typing)
        lost = both.select(f"lost:{name}" for name in plan.present)
        return both.select(plan.present), failures_of(lost, list(plan.present), plan.coercions)

    def _plan(self, schema: pl.Schema) -> _Plan:
        """The selects for frames of one schema, built once: building expressions costs more than running them on a
        few rows, and the requests of one client keep one schema."""
        key = tuple(schema.items())
        if key not in self._plans:
            present = [name for name in self.dtypes if name in schema]
            casts = {name: typed_expression(name, schema[name], self.dtypes[name]) for name in present}
            typing = [cast.alias(name) for name, cast in casts.items()]
            typing += [(pl.col(n).is_not_null() & cast.is_null()).alias(f"lost:{n}") for n, cast in casts.items()]
            checks = [c for c in self.checks if c.column is None or c.column in schema]
            builtin = [c for c in checks if c.expr is not None]
            flags = [
                (~c.expr.fill_null(c.ignore_na)).alias(str(i)) for i, c in enumerate(builtin) if c.expr is not None
            ]
            custom = [c for c in checks if c.function is not None]
            coercions = [f"coerce_dtype('{self.dtypes[name]}')" for name in present]
            self._plans[key] = _Plan(present, typing, coercions, builtin, flags, custom)
        return self._plans[key]

    def _failed_checks(self, frame: pl.DataFrame, whole: bool) -> list[Failure]:
        plan = self._plan(frame.schema)
        flags = frame.select(plan.flags)
        failures = failures_of(flags, [c.column for c in plan.builtin], [c.name for c in plan.builtin])
        for check in plan.custom if whole else []:
            failed = ~self._run(check, frame).fill_null(check.ignore_na)
            if failed.any():
                failures.append(Failure(check.reported_as, check.name, failed_rows(failed)))
        return failures

    @staticmethod
    def _run(check: _Compiled, frame: pl.DataFrame) -> pl.Series:
        assert check.function is not None
        out = check.function(PolarsData(frame.lazy(), check.column or "*"))
        if isinstance(out, bool):
            return pl.Series([out] * frame.height)
        passed: pl.Series = out.select(pl.all_horizontal(pl.all())).collect().to_series()
        return passed

    def _column_checks(self) -> list[_Compiled]:
        compiled = []
        for name, column in self.schema.columns.items():
            if not column.nullable:
                compiled.append(_Compiled("not_nullable", name, pl.col(name).is_not_null(), None, False))
            if column.unique:
                compiled.append(_Compiled("field_uniqueness", name, pl.col(name).is_unique(), None, True))
            compiled += [self._compile(check, name) for check in column.checks]
        return compiled

    @staticmethod
    def _compile(check: Check, column: str | None, reported_as: str | None = None) -> _Compiled:
        name = check.error or check.name or "check"
        builder = BUILTIN.get(check.name or "")
        if builder is not None and column is not None and not check.element_wise:
            return _Compiled(name, column, builder(pl.col(column), **check._check_kwargs), None, check.ignore_na)
        function = partial(check._check_fn, **check._check_kwargs)
        return _Compiled(name, column, None, function, check.ignore_na, reported_as or column)
