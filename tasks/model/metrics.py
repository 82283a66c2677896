"""ROC AUC, the one implementation: promotion gates use `roc_auc`, the drift engine's performance rule
`roc_auc_delong` (the same AUC with its standard error, tested equal). Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with DeLong's standard error and the class counts it rests on."""

    auc: float
    standard_error: float
    positives: int
    negatives: int


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


def roc_auc_delong(labels: np.ndarray, scores: np.ndarray) -> AucEstimate | None:
    """ROC AUC with DeLong's standard error; None when only one class is present.

    DeLong's placement values: a positive's is the share of negatives it outranks, a negative's the share of
    positives that outrank it (ties count half). The AUC is their mean and its variance their sample variances over
    the class sizes. Every case with the same score shares its placement, so one sort and per-tie-group counts give
    them all: a million rows cost one argsort, not a positives x negatives matrix.
    """
    positive = labels == 1
    positives = int(positive.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores)
    ordered = scores[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    group_positives = np.add.reduceat(positive[order].astype(np.int64), starts)
    group_negatives = np.diff(np.append(starts, labels.size)) - group_positives
    over_negatives = (np.cumsum(group_negatives) - group_negatives / 2) / negatives
    under_positives = 1.0 - (np.cumsum(group_positives) - group_positives / 2) / positives
    auc, positive_variance = _weighted_mean_variance(over_negatives, group_positives)
    _, negative_variance = _weighted_mean_variance(under_positives, group_negatives)
    standard_error = float(np.sqrt(positive_variance / positives + negative_variance / negatives))
    return AucEstimate(auc, standard_error, positives, negatives)


def _weighted_mean_variance(values: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Mean and sample variance (ddof 1) of `values` each repeated `counts` times; a single case has variance 0,
    which keeps the bound defined (the drift rule's minimum counts make it moot)."""
    total = int(counts.sum())
    mean = float(np.dot(values, counts) / total)
    variance = float(np.dot((values - mean) ** 2, counts) / (total - 1)) if total > 1 else 0.0
    return mean, variance
