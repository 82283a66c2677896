"""Score steps: the champion path from a validated batch to stored predictions, and the holdout promotion reads.

`predict` (tasks.model.scoring) is pure; the tasks here read the batch, check it against the contract first (a
batch whose columns left the contract fails with ContractViolation before LightGBM sees it), and write predictions once.
"""

from __future__ import annotations

import polars as pl
from prefect.artifacts import create_table_artifact

from tasks.data.lake import predictions_key
from tasks.data.lake_io import list_batches, read_batch, read_batches
from tasks.model.registry import champion_version, load_holdout, load_model
from tasks.model.scoring import ScoredBatch, predict, prediction_frame
from tasks.platform import events
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.contract import validate
from tasks.platform.errors import NoChampion, NotEnoughData
from tasks.platform.retry import io_task, step_task

__all__ = ["ScoredBatch", "load_dataset"]  # re-exported: flows import steps only


@io_task
def resolve_batch(cfg: DatasetConfig, batch_id: str) -> str:
    """The given batch id, or the newest validated batch when empty."""
    if batch_id:
        return batch_id
    batches = list_batches(cfg.store, cfg.name)
    if not batches:
        raise NotEnoughData(f"{cfg.name}: no validated batch to score; run `ingest` first")
    return batches[-1].batch_id


@io_task
def require_champion(cfg: DatasetConfig) -> str:
    """The exact champion version now; NoChampion (not retried) when there is none."""
    version = champion_version(cfg)
    if version is None:
        raise NoChampion(f"{cfg.model_name} has no champion: run `train` then `promote` for dataset {cfg.name!r} first")
    return version


@step_task
def score_batch(cfg: DatasetConfig, batch_id: str, version: str) -> ScoredBatch:
    """Validate, encode, predict and write predictions once (a retried run finds them and reuses them)."""
    frame = validate(read_batch(cfg.store, cfg.name, batch_id), cfg.contract)
    scores = predict(load_model(cfg, version), frame, cfg.columns)
    key = predictions_key(cfg.name, version, batch_id)
    cfg.store.write_parquet_if_absent(key, prediction_frame(frame, cfg.columns, scores, version))
    return ScoredBatch(
        dataset=cfg.name,
        batch_id=batch_id,
        model_version=version,
        predictions_uri=cfg.store.uri(key),
        rows=frame.height,
    )


@io_task
def announce_scored(cfg: DatasetConfig, scored: ScoredBatch) -> None:
    """Emit `driftloop.batch.scored` and leave the keyed record of which version scored what."""
    events.emit(events.BATCH_SCORED, events.batch_resource(cfg.name, scored.batch_id), scored.model_dump())
    create_table_artifact([scored.model_dump()], key=f"score-{cfg.name}", description="Batch scored by the champion")


def read_holdout(cfg: DatasetConfig, version: str) -> pl.DataFrame:
    """The exact holdout rows recorded with `version`, in recorded order."""
    holdout = load_holdout(cfg, version)
    frame = read_batches(cfg.store, cfg.name, list(holdout["batches"]))
    order = pl.DataFrame({cfg.columns.id: holdout["ids"]}).with_row_index("holdout_order")
    return frame.join(order, on=cfg.columns.id, how="inner").sort("holdout_order").drop("holdout_order")
