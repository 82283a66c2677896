"""The training window's rows (pure), assembled one batch at a time: the float matrices LightGBM trains and validates
on, the holdout and the reference sample.

Only one batch is ever held as a frame, so a window of tens of millions of rows costs the matrices it trains on and
little more (the whole window as a frame, then as a matrix, then split, held it three times over). The rows are the
ones the window rule (tasks.model.window) names, in batch order, and every fifth training row validates, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from tasks.model.features import CategoryMapping, encode, fit_mapping
from tasks.model.window import WindowPlan
from tasks.platform.contract import Columns

VALIDATION_EVERY = 5  # every fifth training row validates: spread over every batch, the same rows every time
SAMPLE_SEED = 42  # the same reference pool gives the same reference sample

Batches = Iterable[tuple[str, pl.DataFrame]]
"""(batch id, frame) in the plan's order, oldest first: what the I/O layer reads from the lake, one at a time."""


@dataclass(frozen=True)
class TrainingSet:
    """Training rows as LightGBM sees them: the fit rows and the validation rows, each a matrix and its labels."""

    fit: np.ndarray
    fit_labels: np.ndarray
    validation: np.ndarray
    validation_labels: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.fit_labels) + len(self.validation_labels)


@dataclass(frozen=True)
class Window:
    training: TrainingSet
    holdout: pl.DataFrame
    reference: pl.DataFrame


def training_rows(labelled: pl.DataFrame, holdout: int) -> pl.DataFrame:
    """A batch's training rows: its labelled rows before its last `holdout` labelled ones (those are the holdout)."""
    return labelled.head(labelled.height - holdout)


def window_mapping(batches: Batches, plan: WindowPlan, columns: Columns) -> CategoryMapping:
    """The category mapping of the window's training rows, gathered batch by batch (the same as fitting it on them
    all at once: sorted non-null categories per text column)."""
    categories: dict[str, set[str]] = {}
    for batch, frame in batches:
        rows = _complete(training_rows(_labelled(frame, columns), plan.holdout.get(batch, 0)), columns)
        for name, values in fit_mapping(rows, columns).items():
            categories.setdefault(name, set()).update(values)
    return {name: sorted(values) for name, values in categories.items()}


def assemble(batches: Batches, plan: WindowPlan, columns: Columns, mapping: CategoryMapping, sample: int) -> Window:
    """Encode the training rows into a preallocated training set, keep the holdout rows and a seeded sample of at
    most `sample` reference rows, one batch at a time. A batch holding other rows than its metadata says is a
    ValueError naming the numbers (the plan was counted from the metadata)."""
    filler = _Filler(plan.trainable_rows, len(columns.features))
    picks = _reference_picks(plan.reference_pool_rows, sample)
    holdout, reference, pool = [], [], 0
    for batch, frame in batches:
        labelled = _labelled(frame, columns)
        kept = plan.holdout.get(batch, 0)
        if batch in plan.train_batches:
            rows = training_rows(labelled, kept)
            filler.add(encode(_complete(rows, columns), columns, mapping), _labels(rows, columns), batch)
        if kept:
            holdout.append(_copied(labelled, labelled.height - kept, labelled.height))
        if batch in plan.reference_batches:
            reference.append(frame[picks[(picks >= pool) & (picks < pool + frame.height)] - pool])
            pool += frame.height
    training = filler.done()
    if pool != plan.reference_pool_rows:
        raise ValueError(f"the reference batches hold {pool} rows; the metadata counts {plan.reference_pool_rows}")
    return Window(training=training, holdout=stack(holdout), reference=stack(reference))


def training_set(frame: pl.DataFrame, columns: Columns, mapping: CategoryMapping) -> TrainingSet:
    """Every row of one frame as a training set (every fifth row validates)."""
    filler = _Filler(frame.height, len(columns.features))
    filler.add(encode(frame, columns, mapping), _labels(frame, columns), "frame")
    return filler.done()


def holdout_rows(labelled: Mapping[str, pl.DataFrame], counts: dict[str, int]) -> pl.DataFrame:
    """The last `counts[b]` labelled rows of each batch, oldest batch first (`counts` is recorded newest first)."""
    return stack([labelled[b].tail(k) for b, k in reversed(counts.items()) if k])


def stack(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Batches one under another; a batch written before an optional column joined the contract has nulls there."""
    return pl.concat(frames, how="diagonal_relaxed")


class _Filler:
    """Rows written into matrices allocated once for the whole window, every fifth to the validation matrix."""

    def __init__(self, rows: int, features: int) -> None:
        validation = rows // VALIDATION_EVERY
        self.fit, self.fit_labels = np.empty((rows - validation, features)), np.empty(rows - validation)
        self.validation, self.validation_labels = np.empty((validation, features)), np.empty(validation)
        self.rows, self.seen = rows, 0

    def add(self, matrix: np.ndarray, labels: np.ndarray, batch: str) -> None:
        if self.seen + len(labels) > self.rows:
            raise ValueError(f"with batch {batch} the training rows pass the {self.rows} the metadata counts")
        validates = (self.seen + np.arange(len(labels))) % VALIDATION_EVERY == VALIDATION_EVERY - 1
        before = self.seen // VALIDATION_EVERY  # validation rows among the rows already written
        _put(self.fit, self.fit_labels, self.seen - before, matrix[~validates], labels[~validates])
        _put(self.validation, self.validation_labels, before, matrix[validates], labels[validates])
        self.seen += len(labels)

    def done(self) -> TrainingSet:
        if self.seen != self.rows:
            raise ValueError(f"the window's batches hold {self.seen} training rows; the metadata counts {self.rows}")
        return TrainingSet(self.fit, self.fit_labels, self.validation, self.validation_labels)


def _put(matrix: np.ndarray, labels: np.ndarray, at: int, rows: np.ndarray, values: np.ndarray) -> None:
    matrix[at : at + len(values)], labels[at : at + len(values)] = rows, values


def _reference_picks(pool: int, sample: int) -> np.ndarray:
    """Sorted positions in the reference pool of the sampled rows: all of them when the pool is no larger."""
    if pool <= sample:
        return np.arange(pool)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(pool, size=sample, replace=False))


def _complete(frame: pl.DataFrame, columns: Columns) -> pl.DataFrame:
    """The batch with every feature: one written before an optional feature joined the contract gets nulls there."""
    return frame.with_columns(pl.lit(None).alias(name) for name in columns.features if name not in frame.columns)


def _labelled(frame: pl.DataFrame, columns: Columns) -> pl.DataFrame:
    return frame.filter(pl.col(columns.target).is_not_null())


def _labels(frame: pl.DataFrame, columns: Columns) -> np.ndarray:
    return frame.get_column(columns.target).to_numpy().astype(np.float64)


def _copied(frame: pl.DataFrame, start: int, stop: int) -> pl.DataFrame:
    """Rows copied out of the frame (a slice would keep the whole batch alive until the window is done)."""
    return frame[np.arange(start, stop)]
