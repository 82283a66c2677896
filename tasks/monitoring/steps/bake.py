"""The bake check's I/O: a new champion against the one it replaced, on one batch's labelled rows (tasks.model.bake).

Score stored both versions' predictions and how each scoring went; this reads them back, joined by id on the batch's
labelled rows, and returns the verdict that persist_summary keeps in summary.json.
"""

from __future__ import annotations

import polars as pl

from tasks.data import lake, lake_io
from tasks.model import history
from tasks.model.bake import BakeVerdict, judge_bake, replaced_by
from tasks.model.scoring import ScoringHealth
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.retry import step_task

__all__ = ["BakeVerdict"]


@step_task
def check_bake(dataset: str, batch_id: str, version: str) -> BakeVerdict | None:
    """The verdict on this batch while `version` bakes; None outside a bake, or when the version it replaced did
    not score this batch (the bake was over when score ran)."""
    cfg = load_dataset(dataset)
    previous = replaced_by(history.read_recent(cfg), version)
    if previous is None or not cfg.store.exists(lake.predictions_key(dataset, previous, batch_id)):
        return None
    target = cfg.columns.target
    batch = lake_io.read_batch(cfg.store, dataset, batch_id).select(cfg.columns.id, target)
    labelled = (
        batch.join(_scores(cfg, version, batch_id, "champion"), on=cfg.columns.id, how="inner")
        .join(_scores(cfg, previous, batch_id, "previous"), on=cfg.columns.id, how="inner")
        .filter(pl.col(target).is_not_null())
    )
    return judge_bake(
        labelled.get_column(target).cast(pl.Int64).to_numpy(),
        labelled.get_column("champion").to_numpy(),
        labelled.get_column("previous").to_numpy(),
        _health(cfg, version, batch_id, batch.height),
        (version, previous),
        cfg.promotion,
    )


def _scores(cfg: DatasetConfig, version: str, batch_id: str, name: str) -> pl.DataFrame:
    frame = cfg.store.read_parquet(lake.predictions_key(cfg.name, version, batch_id))
    return frame.select(cfg.columns.id, pl.col("prediction").alias(name))


def _health(cfg: DatasetConfig, version: str, batch_id: str, rows: int) -> ScoringHealth:
    """How score's run of `version` went; predictions written before health was recorded count as healthy."""
    recorded = cfg.store.get_json_if_exists(lake.scoring_health_key(cfg.name, version, batch_id))
    return (
        ScoringHealth.model_validate(recorded)
        if recorded
        else ScoringHealth(rows=rows, failed_rows=0, latency_ms_per_1k=0.0)
    )
