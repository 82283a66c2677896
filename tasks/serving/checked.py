"""Records that passed the contract (pure): as plain columns (the fast way) or a frame (the polars way), scored
and logged alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from tasks.model.features import CategoryMapping, encode, encode_columns
from tasks.platform.contract import Columns


@dataclass(frozen=True)
class Checked:
    columns: Mapping[str, Sequence[Any]] | None = None
    frame: pl.DataFrame | None = None
    dtypes: dict[str, pl.DataType] = field(default_factory=dict)  # to make a frame of the columns, off the request path

    @property
    def height(self) -> int:
        if self.columns is not None:
            return len(next(iter(self.columns.values())))
        return self.as_frame().height

    def ids(self, column: str) -> list[str]:
        if self.columns is not None:
            return [str(value) for value in self.columns[column]]
        return self.as_frame().get_column(column).cast(pl.String).to_list()

    def subset(self, mask: np.ndarray) -> Checked:
        if self.columns is not None:
            keep = mask.tolist()
            picked = {
                name: [v for v, k in zip(values, keep, strict=True) if k] for name, values in self.columns.items()
            }
            return Checked(columns=picked, dtypes=self.dtypes)
        return Checked(frame=self.as_frame().filter(pl.Series(mask)), dtypes=self.dtypes)

    def matrix(self, columns: Columns, mapping: CategoryMapping) -> np.ndarray:
        if self.columns is not None:
            return encode_columns(self.columns, columns, mapping)
        return encode(self.as_frame(), columns, mapping)

    def as_frame(self) -> pl.DataFrame:
        if self.frame is not None:
            return self.frame
        assert self.columns is not None
        return pl.DataFrame(self.columns, schema={name: self.dtypes[name] for name in self.columns})
