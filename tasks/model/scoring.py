"""The champion's scoring path, pure: encode with the model's own mapping, predict, and time it for the SLA gate."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
from pydantic import BaseModel

from tasks.model.features import encode
from tasks.model.records import LoadedModel
from tasks.model.training import predict_scores
from tasks.platform.contract import Columns

LATENCY_REPEATS = 3


class ScoringHealth(BaseModel):
    """How one version's scoring of one batch went: what the SLA judges during a new champion's bake period."""

    rows: int
    failed_rows: int  # scores that are not finite numbers
    latency_ms_per_1k: float


class ScoredBatch(BaseModel):
    dataset: str
    batch_id: str
    model_version: str
    predictions_uri: str
    rows: int
    health: ScoringHealth | None = None  # None: scored before health was recorded
    shadow_version: str | None = None  # the previous champion, scoring the batch too during the bake period


def predict(model: LoadedModel, frame: pl.DataFrame, columns: Columns, threads: int = 0) -> np.ndarray:
    """Probabilities of the positive class, encoded with the model's own category mapping (`threads` 0: LightGBM's
    default)."""
    return predict_scores(model.booster, encode(frame, columns, model.mapping), threads)


def timed_predict(model: LoadedModel, frame: pl.DataFrame, columns: Columns) -> tuple[np.ndarray, ScoringHealth]:
    """`predict`, with what the bake period's SLA check needs: the rows it could not score, and how long it took."""
    started = time.perf_counter()
    scores = predict(model, frame, columns)
    elapsed_ms = 1000.0 * (time.perf_counter() - started)
    failed = int(np.count_nonzero(~np.isfinite(scores)))
    return scores, ScoringHealth(
        rows=frame.height, failed_rows=failed, latency_ms_per_1k=elapsed_ms * 1000 / max(frame.height, 1)
    )


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
