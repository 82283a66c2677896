"""A custom check's expression evaluated in numpy gives what polars gives, or leaves the records to polars."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import polars as pl
import pytest

from tasks.serving.expressions import Undecided, as_array, compile_expression

DTYPES: dict[str, pl.DataType] = {
    "i": pl.Int64(),
    "j": pl.Int64(),
    "f": pl.Float64(),
    "s": pl.String(),
    "b": pl.Boolean(),
}
BIG = 2**62
GRID = {
    "i": [-(2**63), -5, 0, 1, 14, 2**31, BIG, 2**63 - 1],
    "j": [-3, 0, 2, BIG],
    "f": [-float("inf"), -1.5, -0.0, 0.0, 1e-9, 0.5, 14.0, 1e308, float("inf")],
    "s": ["", "a", "m", "x", "é"],
    "b": [True, False],
}
EXPRESSIONS = {
    "history fits age": pl.col("f") <= pl.col("i") - 14 + 1e-9,
    "integer product": pl.col("i") * 3 > pl.col("j"),
    "integer ratio": pl.col("i") / pl.col("j") >= 0.5,
    "float over integer": pl.col("f") / pl.col("i") < 2,
    "and, or": (pl.col("i") > 1) & (pl.col("f") < 2.5) | pl.col("b"),
    "not": ~(pl.col("s") == "x"),
    "text order": pl.col("s") < "m",
    "any of": pl.any_horizontal(pl.col("i") > 5, pl.col("b")),
    "between, left closed": pl.col("f").is_between(0, 10, closed="left"),
    "between columns": pl.col("i").is_between(pl.col("j"), 100),
    "aliased difference": (pl.col("i") - pl.col("j")).alias("gap") != 0,
    "flag equal": pl.col("b") == pl.lit(True),
    "float sum": pl.col("f") + pl.col("f") > pl.col("i"),
}
ROWS = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def polars_verdicts(expr: pl.Expr, rows: list[dict[str, Any]]) -> list[Any]:
    frame = pl.DataFrame({c: [row[c] for row in rows] for c in GRID}, schema=DTYPES)
    return frame.select(expr.alias("verdict")).to_series().to_list()


def numpy_verdicts(expr: pl.Expr, rows: list[dict[str, Any]]) -> list[Any]:
    evaluate = compile_expression(expr, DTYPES)
    assert evaluate is not None
    columns = {c: as_array([row[c] for row in rows], DTYPES[c]) for c in GRID}
    return np.broadcast_to(evaluate(columns), len(rows)).tolist()


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_every_record_numpy_decides_gets_the_polars_verdict(name: str) -> None:
    expr = EXPRESSIONS[name]
    decided = []
    for row in ROWS:
        try:
            decided.append((row, numpy_verdicts(expr, [row])[0]))
        except Undecided:
            continue
    assert len(decided) > len(ROWS) / 3, "the numpy way decides most of the grid"
    assert [verdict for _, verdict in decided] == polars_verdicts(expr, [row for row, _ in decided])
    # and all the decided records at once, as a request carries them
    assert numpy_verdicts(expr, [row for row, _ in decided]) == [verdict for _, verdict in decided]


@pytest.mark.parametrize(
    ("expr", "row"),
    [
        (pl.col("i") * 3 > pl.col("j"), {"i": BIG}),  # overflows 64 bits: polars' answer is its own
        (pl.col("f") - pl.col("f") > 0, {"f": float("inf")}),  # NaN
        (pl.col("f") / pl.col("i") < 2, {"f": 0.0, "i": 0}),  # NaN
        (pl.col("i") & pl.col("j"), {}),  # bitwise on integers
        (pl.col("s") < pl.col("i"), {}),  # text against a number
        (pl.col("b") < pl.lit(True), {}),  # ordering flags
    ],
)
def test_what_could_differ_is_left_to_polars(expr: pl.Expr, row: dict[str, Any]) -> None:
    with pytest.raises(Undecided):
        numpy_verdicts(expr, [ROWS[0] | row])


def test_a_null_is_left_to_polars() -> None:
    with pytest.raises(Undecided):
        as_array([1.0, None], pl.Float64())


@pytest.mark.parametrize(
    "expr",
    [
        pl.col("i") // 2 == 1,
        pl.col("f").abs() < 3,
        pl.col("i").cast(pl.Float64) > 1,
        pl.lit(2) * 3 > pl.col("i"),  # arithmetic on literals alone
        pl.col("i").is_null(),
        pl.col("g") > 1,  # a Float32 column
        pl.col("unknown") > 1,
    ],
)
def test_other_expressions_are_not_compiled(expr: pl.Expr) -> None:
    assert compile_expression(expr, DTYPES | {"g": pl.Float32()}) is None
