"""ROC AUC, the one implementation: promotion gates and the drift engine's performance rule both use it. Pure."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Rank-based ROC AUC (ties averaged); None when only one class is present."""
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def roc_auc_or_nan(labels: np.ndarray, scores: np.ndarray) -> float:
    """`roc_auc`, with NaN for a one-class sample (a bootstrap resample, a holdout gates then fail on)."""
    auc = roc_auc(labels, scores)
    return float("nan") if auc is None else auc
