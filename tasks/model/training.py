"""Training (pure): the deterministic LightGBM fit of a challenger on the rows its window (tasks.model.window) gives."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from tasks.model.features import CategoryMapping, categorical_indices, encode
from tasks.platform.contract import Columns

VALIDATION_EVERY = 5  # every fifth training row validates: spread over every batch, the same rows every time
SEED = 42
PARAMS: dict[str, object] = {
    "objective": "binary",
    "metric": "auc",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
MAX_ROUNDS = 400
EARLY_STOPPING_ROUNDS = 30


def fit_booster(train: pl.DataFrame, columns: Columns, mapping: CategoryMapping) -> lgb.Booster:
    """Deterministic LightGBM fit with early stopping on every fifth row of the window."""
    matrix = encode(train, columns, mapping)
    labels = train.get_column(columns.target).to_numpy().astype(np.float64)
    validation = np.arange(train.height) % VALIDATION_EVERY == VALIDATION_EVERY - 1
    options: dict[str, Any] = {
        "feature_name": list(columns.features),
        "categorical_feature": categorical_indices(columns, mapping),
    }
    fit_set = lgb.Dataset(matrix[~validation], labels[~validation], **options)
    val_set = lgb.Dataset(matrix[validation], labels[validation], reference=fit_set, **options)
    return lgb.train(
        PARAMS,
        fit_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[val_set],
        valid_names=["val"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def predict_scores(booster: lgb.Booster, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
    """Positive-class probabilities as a float64 vector (`threads` 0: LightGBM's default)."""
    return np.asarray(booster.predict(matrix, num_threads=threads), dtype=np.float64)
