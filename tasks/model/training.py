"""Training (pure): the deterministic LightGBM fit of a challenger on the rows its window (tasks.model.window_rows)
gives."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from tasks.model.features import CategoryMapping, categorical_indices
from tasks.model.window_rows import TrainingSet
from tasks.platform.contract import Columns

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


def fit_booster(training: TrainingSet, columns: Columns, mapping: CategoryMapping) -> lgb.Booster:
    """Deterministic LightGBM fit with early stopping on the training set's validation rows."""
    options: dict[str, Any] = {
        "feature_name": list(columns.features),
        "categorical_feature": categorical_indices(columns, mapping),
    }
    fit_set = lgb.Dataset(training.fit, training.fit_labels, **options)
    val_set = lgb.Dataset(training.validation, training.validation_labels, reference=fit_set, **options)
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
