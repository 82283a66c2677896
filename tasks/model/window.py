"""The training window (pure): which rows a challenger trains on, which it is judged on, and which feed its reference.

The window rule (DESIGN §4, "the retraining window follows the new regime"):
- holdout: the newest `holdout_rows` labelled rows, taken from the newest batches (the last labelled rows of each
  batch, newest batch first); never trained on, and recorded as `{batch: rows}` so promotion re-derives exactly
  these rows from the batches (ids are unique within a batch only, so rows are never matched by id across batches);
- normal window: the newest `train_batches` batches, labelled rows only, minus the holdout;
- drift window (an onset batch is given): every batch since the onset, inclusive, but at most the newest
  `train_batches` of them, minus the holdout; when that leaves fewer than `min_onset_rows` labelled rows, the newest
  pre-onset batches are added one at a time until it does (or none are left). The reference sample is drawn only
  from batches since the onset, so monitoring re-anchors on the new regime even when older rows were mixed in.
"""

from __future__ import annotations

from pydantic import BaseModel

from tasks.data.lake import BatchMeta
from tasks.platform.errors import ConfigurationError, NotEnoughData
from tasks.platform.specs import DatasetFields

MIN_TRAIN_ROWS = 1000  # below this, early stopping on a fifth of the window has too little to stop on


class WindowPlan(BaseModel):
    """Which batches train, which rows hold out and which batches feed the reference: references only."""

    dataset: str
    onset_batch_id: str
    train_batches: list[str]
    holdout: dict[str, int]
    reference_batches: list[str]
    sha256: dict[str, str]
    trainable_rows: int
    reference_pool_rows: int
    mixed_pre_onset: int

    @property
    def batches(self) -> list[str]:
        """Every batch to read, oldest first."""
        wanted = {*self.train_batches, *self.holdout, *self.reference_batches}
        return [b for b in self.sha256 if b in wanted]


def plan_window(metas: list[BatchMeta], spec: DatasetFields, dataset: str, onset_batch_id: str = "") -> WindowPlan:
    """Apply the window rule to the lake's batches (oldest first); NotEnoughData when too few labelled rows."""
    labelled = sum(m.labelled_rows for m in metas)
    if labelled < spec.holdout_rows + MIN_TRAIN_ROWS:
        short, lowest = spec.holdout_rows + MIN_TRAIN_ROWS - labelled, max(labelled - MIN_TRAIN_ROWS, 0)
        raise NotEnoughData(
            f"{dataset}: {labelled} labelled rows in {len(metas)} batches; training needs "
            f"{spec.holdout_rows} holdout + {MIN_TRAIN_ROWS} training rows. Land and ingest {short} more labelled "
            f"rows, or lower `holdout_rows` in the dataset block {dataset!r} (to {lowest} at most with these rows)"
        )
    holdout = _holdout_counts(metas, spec.holdout_rows)
    window, reference, mixed = _window_batches(metas, spec, holdout, onset_batch_id)
    trainable = _trainable(window, holdout)
    if trainable < MIN_TRAIN_ROWS:
        raise NotEnoughData(
            f"{dataset}: {trainable} labelled rows in the training window outside the holdout; need {MIN_TRAIN_ROWS}. "
            f"Raise `train_batches` (now {spec.train_batches}) or lower `holdout_rows` (now {spec.holdout_rows}) in "
            f"the dataset block {dataset!r}, or land more labelled rows"
        )
    return WindowPlan(
        dataset=dataset,
        onset_batch_id=onset_batch_id,
        train_batches=[m.batch_id for m in window],
        holdout=holdout,
        reference_batches=[m.batch_id for m in reference],
        sha256={m.batch_id: m.sha256 for m in metas},
        trainable_rows=trainable,
        reference_pool_rows=sum(m.rows for m in reference),
        mixed_pre_onset=mixed,
    )


def reference_shortfall(metas: list[BatchMeta], onset_batch_id: str, min_batches: int, min_rows: int) -> str | None:
    """Why a drift-caused version cannot be anchored on the new regime yet (too few post-onset batches or rows in
    the lake), or None when it can: a reference drawn from a sliver of the new regime alarms on everything after."""
    ids = [m.batch_id for m in metas]
    if onset_batch_id not in ids:
        return None  # planning names the unknown onset
    since = metas[ids.index(onset_batch_id) :]
    rows = sum(m.rows for m in since)
    if len(since) >= min_batches and rows >= min_rows:
        return None
    return (
        f"waiting for the new regime: {len(since)} batches with {rows} rows since the onset {onset_batch_id}; its "
        f"reference needs at least {min_batches} batches and {min_rows} rows (drift policy min_reference_*)"
    )


def _holdout_counts(metas: list[BatchMeta], rows: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for meta in reversed(metas):
        if rows <= 0:
            break
        if take := min(meta.labelled_rows, rows):
            counts[meta.batch_id] = take
            rows -= take
    return counts


def _trainable(window: list[BatchMeta], holdout: dict[str, int]) -> int:
    return sum(m.labelled_rows - holdout.get(m.batch_id, 0) for m in window)


def _window_batches(
    metas: list[BatchMeta], spec: DatasetFields, holdout: dict[str, int], onset_batch_id: str
) -> tuple[list[BatchMeta], list[BatchMeta], int]:
    if not onset_batch_id:
        window = metas[-spec.train_batches :]
        return window, window, 0
    ids = [m.batch_id for m in metas]
    if onset_batch_id not in ids:
        raise ConfigurationError(f"onset batch {onset_batch_id!r} is not a validated batch of {spec.model_name}")
    since, before = metas[ids.index(onset_batch_id) :], metas[: ids.index(onset_batch_id)]
    if len(since) > spec.train_batches:  # a long episode trains on its newest batches, like the normal window
        since = since[-spec.train_batches :]
        return since, since, 0
    window = list(since)
    while _trainable(window, holdout) < spec.min_onset_rows and before:
        window.insert(0, before.pop())
    return window, since, len(window) - len(since)
