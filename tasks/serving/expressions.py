"""A custom check's polars expression on a few records, in numpy (pure): the small-request way of tasks.serving.rows.

Building a frame and running a select costs about 0.3 ms whatever the row count, more than everything else a
one-record request needs. Most dataframe checks compare columns after a little arithmetic, so the common nodes
(columns, literals, + - * /, comparisons, and/or/not, all/any_horizontal, is_between) are evaluated here on numpy
arrays, which type them as polars does: an integer meeting a float becomes a float, integers stay 64-bit, floats are
IEEE doubles. Whatever could make the two differ (NaN, an integer result near the 64-bit limit, operand types polars
would refuse or treat otherwise) raises Undecided, and the polars way decides; an expression with any other node is
not compiled at all. Agreement with polars is tested.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

Arrays = Mapping[str, np.ndarray]
Evaluate = Callable[[Arrays], np.ndarray]
NUMPY_DTYPES: dict[pl.DataType, Any] = {pl.Int64(): np.int64, pl.Float64(): np.float64, pl.Boolean(): np.bool_}
INTEGER_LIMIT = 2.0**62  # integer results beyond this are left to polars (no overflow can go unseen)
_NUMBER, _FLAG, _TEXT = "number", "flag", "text"


class Undecided(Exception):
    """These records are not for the numpy way: polars decides them."""


class _Unsupported(Exception):
    pass


def compile_expression(expr: pl.Expr, dtypes: Mapping[str, pl.DataType]) -> Evaluate | None:
    """A function of the records' columns (arrays, `as_array`) giving what `expr` gives on them, or None where the
    expression uses anything this module does not evaluate."""
    try:
        evaluate = _node(json.loads(expr.meta.serialize(format="json")), dtypes)[0]
    except _Unsupported:
        return None

    def quietly(columns: Arrays) -> np.ndarray:
        with np.errstate(all="ignore"):  # an overflow to inf is IEEE, as in polars; NaN is caught where it appears
            return evaluate(columns)

    return quietly


def as_array(values: list[Any], dtype: pl.DataType) -> np.ndarray:
    """A column's typed Python values as the array the evaluators read; a null is left to polars."""
    if None in values:
        raise Undecided
    return np.array(values, dtype=NUMPY_DTYPES.get(dtype, object))


def _node(tree: Any, dtypes: Mapping[str, pl.DataType]) -> tuple[Evaluate, bool]:
    """The node's evaluator, and whether it reads a column (arithmetic on literals alone follows polars' rules for
    literals, not numpy's: left out)."""
    kind, body = next(iter(tree.items())) if isinstance(tree, dict) and len(tree) == 1 else (None, {})
    if kind == "Column" and _plain(dtypes.get(str(body))):
        return (lambda columns: columns[body]), True
    if kind == "Literal":
        value = _literal(body)
        return (lambda _: value), False
    if kind == "Alias":
        return _node(body[0], dtypes)
    if kind == "BinaryExpr" and body["op"] in BINARY:
        (left, left_reads), (right, right_reads) = _node(body["left"], dtypes), _node(body["right"], dtypes)
        if body["op"] in ARITHMETIC and not (left_reads or right_reads):
            raise _Unsupported
        apply = BINARY[body["op"]]
        return (lambda columns: apply(left(columns), right(columns))), left_reads or right_reads
    name = _function_name(body) if kind == "Function" else None
    if name in FUNCTIONS:
        inputs = [_node(child, dtypes) for child in body["input"]]
        evaluators, combine = [evaluate for evaluate, _ in inputs], FUNCTIONS[name](body["function"])
        return (lambda columns: combine([evaluate(columns) for evaluate in evaluators])), any(r for _, r in inputs)
    raise _Unsupported


def _plain(dtype: pl.DataType | None) -> bool:
    return dtype is not None and (dtype in NUMPY_DTYPES or dtype == pl.String)


def _literal(body: Any) -> np.ndarray:
    ((kind, typed),) = body.items()
    ((dtype, value),) = typed.items()
    if dtype not in {"Dyn": ("Int", "Float"), "Scalar": ("Int64", "Float64", "Boolean", "String")}.get(kind, ()):
        raise _Unsupported
    if type(value) is int and abs(value) >= INTEGER_LIMIT:
        raise _Unsupported
    return np.array(value, dtype=object if isinstance(value, str) else None)


def _function_name(body: Any) -> str | None:
    function = body.get("function")
    if isinstance(function, dict) and "Boolean" in function:
        boolean = function["Boolean"]
        return boolean if isinstance(boolean, str) else next(iter(boolean))
    return None


def _kind(value: np.ndarray) -> str:
    if value.dtype.kind in "iuf":
        return _NUMBER
    if value.dtype.kind == "b":
        return _FLAG
    if value.dtype.kind == "O" and all(type(v) is str for v in value.flat):
        return _TEXT
    raise Undecided


def _arithmetic(op: Callable[[Any, Any], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def apply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if _kind(a) != _NUMBER or _kind(b) != _NUMBER:
            raise Undecided
        result = np.asarray(op(a, b))
        if result.dtype.kind == "i" and np.any(np.abs(op(a.astype(float), b.astype(float))) >= INTEGER_LIMIT):
            raise Undecided
        if result.dtype.kind == "f" and np.isnan(result).any():  # NaN: polars compares and orders it its own way
            raise Undecided
        return result

    return apply


def _comparison(op: Callable[[Any, Any], np.ndarray], ordering: bool = True) -> Callable[..., np.ndarray]:
    def apply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        kind = _kind(a)
        if kind != _kind(b) or (ordering and kind == _FLAG):
            raise Undecided
        return np.asarray(op(a, b), dtype=bool)

    return apply


def _logical(op: Callable[[Any, Any], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def apply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if _kind(a) != _FLAG or _kind(b) != _FLAG:  # on integers polars' and/or are bitwise
            raise Undecided
        return np.asarray(op(a, b))

    return apply


def _flags(values: list[np.ndarray]) -> list[np.ndarray]:
    if any(_kind(v) != _FLAG for v in values):
        raise Undecided
    return values


def _between(function: Any) -> Callable[[list[np.ndarray]], np.ndarray]:
    closed = function["Boolean"]["IsBetween"]["closed"]
    low = BINARY["GtEq" if closed in ("Both", "Left") else "Gt"]
    high = BINARY["LtEq" if closed in ("Both", "Right") else "Lt"]
    return lambda v: low(v[0], v[1]) & high(v[0], v[2])


ARITHMETIC = {
    "Plus": _arithmetic(operator.add),
    "Minus": _arithmetic(operator.sub),
    "Multiply": _arithmetic(operator.mul),
    "TrueDivide": _arithmetic(lambda a, b: np.true_divide(a, b, dtype=np.float64)),  # integers too, as floats
}
BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    **ARITHMETIC,
    "Eq": _comparison(operator.eq, ordering=False),
    "NotEq": _comparison(operator.ne, ordering=False),
    "Lt": _comparison(operator.lt),
    "LtEq": _comparison(operator.le),
    "Gt": _comparison(operator.gt),
    "GtEq": _comparison(operator.ge),
    "And": _logical(operator.and_),
    "Or": _logical(operator.or_),
}
FUNCTIONS: dict[str, Callable[[Any], Callable[[list[np.ndarray]], np.ndarray]]] = {
    "Not": lambda _: lambda v: ~_flags(v)[0],
    "AllHorizontal": lambda _: lambda v: np.logical_and.reduce(_flags(v)),
    "AnyHorizontal": lambda _: lambda v: np.logical_or.reduce(_flags(v)),
    "IsBetween": _between,
}
