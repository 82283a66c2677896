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

    def kept(self) -> Checked:
        """The same records, their columns as tuples: what the online log holds until a flush is then left out of
        Python's cyclic collector (a dict of tuples of plain values is untracked once it survives a collection),
        whose full passes would otherwise walk every waiting record's lists, a quarter of the server's throughput."""
        if self.columns is None:
            return self
        return Checked(columns={name: tuple(values) for name, values in self.columns.items()}, dtypes=self.dtypes)

    def matrix(self, columns: Columns, mapping: CategoryMapping) -> np.ndarray:
        if self.columns is not None:
            return encode_columns(self.columns, columns, mapping)
        return encode(self.as_frame(), columns, mapping)

    def as_frame(self) -> pl.DataFrame:
        if self.frame is not None:
            return self.frame
        assert self.columns is not None
        return pl.DataFrame(self.columns, schema={name: self.dtypes[name] for name in self.columns})


def frame_of(checked: list[Checked]) -> pl.DataFrame:
    """Many requests' records as one frame: plain columns joined first, so a thousand small requests cost one
    frame, not a thousand."""
    plain = [c for c in checked if c.columns is not None]
    frames = [c.as_frame() for c in checked if c.columns is None]
    by_keys: dict[tuple[str, ...], dict[str, list[Any]]] = {}
    for c in plain:
        assert c.columns is not None
        joined = by_keys.setdefault(tuple(c.columns), {name: [] for name in c.columns})
        for name, values in c.columns.items():
            joined[name] += values
    frames += [Checked(columns=columns, dtypes=plain[0].dtypes).as_frame() for columns in by_keys.values()]
    return pl.concat(frames, how="diagonal_relaxed")
