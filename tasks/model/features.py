"""Feature encoding (pure): the one path from a contract-shaped frame to the float matrix LightGBM sees.

Training and scoring both go through `encode`, with the category mapping fitted at training time and stored with
the model version, so a category's code can never differ between the two. LightGBM never sees a polars String
column (that aborts the process): categoricals become integer codes, booleans 0/1, everything float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from tasks.platform.contract import Columns

CategoryMapping = dict[str, list[str]]
"""Per string column, its categories in sorted order; a category's code is its position in the list."""


def fit_mapping(frame: pl.DataFrame, columns: Columns) -> CategoryMapping:
    """Sorted non-null categories of every string-typed categorical column (booleans need no mapping)."""
    mapping: CategoryMapping = {}
    for name in columns.categorical:
        if frame.schema[name] in (pl.String, pl.Categorical) or isinstance(frame.schema[name], pl.Enum):
            values = frame.get_column(name).cast(pl.String).drop_nulls().unique().sort()
            mapping[name] = values.to_list()
    return mapping


def categorical_indices(columns: Columns, mapping: CategoryMapping) -> list[int]:
    """Positions (in `columns.features`) of the columns LightGBM should split as categories."""
    return [i for i, name in enumerate(columns.features) if name in mapping]


def encode(frame: pl.DataFrame, columns: Columns, mapping: CategoryMapping) -> np.ndarray:
    """A float64 matrix in `columns.features` order; unseen or null categories (and nulls anywhere) become NaN.

    NaN is LightGBM's missing value, so an unseen category goes down the missing-value branch instead of
    borrowing another category's code.
    """
    expressions = [_encoded(name, frame.schema[name], mapping.get(name)) for name in columns.features]
    matrix = frame.select(expressions).to_numpy(order="c")
    return matrix if matrix.dtype == np.float64 else matrix.astype(np.float64)


def _encoded(name: str, dtype: pl.DataType, categories: list[str] | None) -> pl.Expr:
    column = pl.col(name)
    if categories is not None:
        codes = pl.Series(range(len(categories)), dtype=pl.Float64)
        column = column.cast(pl.String).replace_strict(categories, codes, default=None, return_dtype=pl.Float64)
    elif dtype == pl.Boolean:
        column = column.cast(pl.Float64)
    return column.cast(pl.Float64).fill_null(float("nan")).alias(name)


def encode_columns(values: Mapping[str, Sequence[Any]], columns: Columns, mapping: CategoryMapping) -> np.ndarray:
    """`encode` for a few records held as Python columns (the model server's small requests), without a polars pass:
    the same codes, NaN for a null or an unseen category. Numbers, flags and mapped text only (a test holds it equal
    to `encode`)."""
    rows = len(next(iter(values.values()))) if values else 0
    matrix = np.empty((rows, len(columns.features)), dtype=np.float64)
    nan = float("nan")
    for j, name in enumerate(columns.features):
        column = values.get(name, [None] * rows)
        if name in mapping:
            codes = {category: float(i) for i, category in enumerate(mapping[name])}
            matrix[:, j] = [nan if v is None else codes.get(v, nan) for v in column]
        elif None in column:
            matrix[:, j] = [nan if v is None else float(v) for v in column]
        else:
            matrix[:, j] = column  # numpy converts a list of plain numbers in C
    return matrix
