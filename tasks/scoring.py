"""Scoring: the champion path from a validated batch to stored predictions, and the holdout evaluation promotion uses.

`predict` is pure; the tasks around it read the batch, check it against the contract first (a batch whose columns
left the contract fails with ContractViolation before LightGBM sees it), and write predictions once.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel

from tasks import events
from tasks.config import DatasetConfig
from tasks.contract import Columns, validate
from tasks.errors import NoChampion, NotEnoughData
from tasks.features import encode
from tasks.lake import list_batches, predictions_key, read_batch, read_batches
from tasks.registry import LoadedModel, champion_version, load_holdout, load_model
from tasks.retry import io_task, step_task
from tasks.training import predict_scores

LATENCY_REPEATS = 3


class ScoredBatch(BaseModel):
    dataset: str
    batch_id: str
    model_version: str
    predictions_uri: str
    rows: int


def predict(model: LoadedModel, frame: pl.DataFrame, columns: Columns) -> np.ndarray:
    """Probabilities of the positive class, encoded with the model's own category mapping."""
    return predict_scores(model.booster, encode(frame, columns, model.mapping))


def prediction_frame(frame: pl.DataFrame, columns: Columns, scores: np.ndarray, version: str) -> pl.DataFrame:
    return pl.DataFrame(
        {columns.id: frame.get_column(columns.id), "prediction": scores, "model_version": [version] * frame.height}
    )


def latency_ms_per_1k(model: LoadedModel, frame: pl.DataFrame, columns: Columns) -> float:
    """Best of a few timed encode+predict runs, in milliseconds per 1,000 rows (best-of filters scheduler noise)."""
    timings = []
    for _ in range(LATENCY_REPEATS):
        started = time.perf_counter()
        predict(model, frame, columns)
        timings.append(time.perf_counter() - started)
    return 1000.0 * min(timings) * 1000.0 / max(frame.height, 1)


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
