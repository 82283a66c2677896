"""The fast drift engine: a reference profile fitted once at training time, checked against each batch.

Pure functions over polars frames and numpy arrays, no I/O. The distances live in `tasks.monitoring.stats` and the
AUC in `tasks.model.metrics`; this module applies the policy's three rules and words the verdict for a human:
- distance: a feature drifts at or above its method's threshold; the batch drifts when `drift_share` of them do;
- null share: a feature (or the prediction) whose share of nulls rose more than `null_share_increase`, or that
  turned entirely null, drifts, and so does the batch: its distance sees only the values left, so a broken feed
  would otherwise look quiet;
- performance: on labelled rows, the batch drifts when the ROC AUC fell more than `performance_drop` below the
  reference with `performance_confidence`, given at least `min_positives` and `min_negatives` to tell.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import numpy as np
import polars as pl

from tasks.model.metrics import AucEstimate, roc_auc_delong
from tasks.monitoring import stats
from tasks.monitoring.models import ColumnDrift, ColumnProfile, DriftProfile, DriftVerdict, Performance
from tasks.platform.contract import Columns
from tasks.platform.specs import DriftPolicyFields

PREDICTION = "prediction"
MAX_CATEGORIES = 50  # rarer reference categories share the "other/unseen" bucket

__all__ = ["ColumnDrift", "ColumnProfile", "DriftProfile", "DriftVerdict", "Performance", "check_drift", "fit_profile"]


def fit_profile(
    reference: pl.DataFrame,
    columns: Columns,
    predictions: np.ndarray | None = None,
    reference_auc: float | None = None,
    reference_auc_se: float | None = None,
) -> DriftProfile:
    """Profile every feature of `reference` (and the reference predictions, if given). `reference_auc_se`, the
    standard error of `reference_auc` (e.g. DeLong's on the holdout), widens the performance rule's bound by the
    reference's own uncertainty; without it the reference AUC is taken as exact."""
    profiles = [_fit_column(reference.get_column(c), c in columns.numeric) for c in columns.features]
    prediction = _fit_column(pl.Series(PREDICTION, predictions), True) if predictions is not None else None
    return DriftProfile(
        rows=reference.height,
        columns=profiles,
        prediction=prediction,
        reference_auc=reference_auc,
        reference_auc_se=reference_auc_se,
    )


def check_drift(
    current: pl.DataFrame,
    profile: DriftProfile,
    policy: DriftPolicyFields,
    predictions: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> DriftVerdict:
    """Compare a batch with the reference profile; drift = enough drifted features, a column (or the prediction)
    gone null, drifted predictions, or a significant AUC drop on labelled rows (which catches concept drift that
    leaves the marginals unchanged)."""
    results = [_check_column(current.get_column(p.column), p, policy) for p in profile.columns]
    drifted_columns = [r.column for r in results if r.drifted]
    share = len(drifted_columns) / max(len(results), 1)
    prediction = None
    if predictions is not None and profile.prediction is not None:
        prediction = _check_column(pl.Series(PREDICTION, predictions), profile.prediction, policy)
    performance = _performance(predictions, labels, profile, policy)
    reasons = _reasons(share, policy, results, prediction, performance)
    return DriftVerdict(
        rows=current.height,
        columns=results,
        drifted_columns=drifted_columns,
        drift_share=share,
        drift_share_threshold=policy.drift_share,
        prediction=prediction,
        performance=performance,
        drifted=bool(reasons),
        reasons=reasons,
    )


def _fit_column(series: pl.Series, numeric: bool) -> ColumnProfile:
    if numeric:
        values, null_share = stats.non_null(series)
        summary = stats.fit_numeric(values if values.size else np.zeros(1))
        return ColumnProfile(
            column=series.name,
            kind="numeric",
            rows=int(values.size),
            null_share=null_share,
            grid=summary.grid.tolist(),
            grid_cdf=summary.cdf.tolist(),
            bin_edges=summary.edges.tolist(),
            bin_proportions=summary.proportions.tolist(),
            std=summary.std,
            discrete=summary.discrete,
        )
    counts, null_share = stats.category_counts(series)
    categories = list(counts)[:MAX_CATEGORIES]
    shares = stats.category_shares(categories, counts)
    return ColumnProfile(
        column=series.name,
        kind="categorical",
        rows=sum(counts.values()),
        null_share=null_share,
        categories=categories,
        proportions=shares.tolist(),
    )


def _check_column(series: pl.Series, profile: ColumnProfile, policy: DriftPolicyFields) -> ColumnDrift:
    method: Literal["psi", "wasserstein", "jensenshannon"]
    if profile.kind == "numeric":
        values, null_share = stats.non_null(series)
        psi, wasserstein = stats.numeric_distances(values, _summary(profile))
        method = policy.numeric_method
        score = psi if method == "psi" else wasserstein
    else:
        counts, null_share = stats.category_counts(series)
        current = stats.category_shares(profile.categories, counts)
        method = policy.categorical_method
        score = stats.categorical_distance(method, np.array(profile.proportions), current)
    threshold = policy.method_threshold(method)
    emptied = _null_share_drifted(null_share, profile.null_share, policy)
    return ColumnDrift(
        column=profile.column,
        kind=profile.kind,
        method=method,
        score=score,
        threshold=threshold,
        drifted=score >= threshold or emptied,
        null_share_reference=profile.null_share,
        null_share_current=null_share,
        null_share_drifted=emptied,
    )


def _null_share_drifted(current: float, reference: float, policy: DriftPolicyFields) -> bool:
    """More nulls than the policy allows. A column with no values left drifts whatever the threshold: its distance,
    over no values, is 0.0 and says nothing."""
    return current - reference > policy.null_share_increase or (current == 1.0 and reference < 1.0)


def _summary(profile: ColumnProfile) -> stats.NumericSummary:
    return stats.NumericSummary(
        grid=np.array(profile.grid),
        cdf=np.array(profile.grid_cdf),
        edges=np.array(profile.bin_edges),
        proportions=np.array(profile.bin_proportions),
        std=profile.std,
        discrete=profile.discrete,
    )


def _performance(
    predictions: np.ndarray | None, labels: np.ndarray | None, profile: DriftProfile, policy: DriftPolicyFields
) -> Performance | None:
    """The performance rule (see `Performance`): inconclusive below the minimum counts, else drift when the AUC
    drop's one-sided lower bound exceeds `performance_drop`."""
    if predictions is None or labels is None:
        return None
    target, scores = _labelled(labels, predictions)
    positives = int(target.sum())
    negatives = target.size - positives
    estimate = roc_auc_delong(target, scores)
    reference = profile.reference_auc
    reference = reference if reference is not None and math.isfinite(reference) else None  # NaN: one-class holdout
    drop, standard_error, bound = _auc_drop(estimate, reference, profile.reference_auc_se, policy)
    inconclusive = bound is None or positives < policy.min_positives or negatives < policy.min_negatives
    return Performance(
        labelled_rows=target.size,
        positives=positives,
        negatives=negatives,
        current_auc=estimate.auc if estimate is not None else None,
        reference_auc=reference,
        drop=drop,
        standard_error=standard_error,
        confidence=policy.performance_confidence,
        drop_lower_bound=bound,
        threshold=policy.performance_drop,
        inconclusive=inconclusive,
        drifted=bound is not None and not inconclusive and bound > policy.performance_drop,
    )


def _labelled(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows with both a label and a prediction: 0/1 labels and float scores."""
    target, scores = labels.astype(np.float64), predictions.astype(np.float64)
    kept = ~np.isnan(target) & ~np.isnan(scores)
    return target[kept].astype(np.int64), scores[kept]


def _auc_drop(
    estimate: AucEstimate | None, reference_auc: float | None, reference_se: float | None, policy: DriftPolicyFields
) -> tuple[float | None, float | None, float | None]:
    """(reference - current AUC, its standard error, its lower bound at `performance_confidence`). One-sided: only a
    fall is drift. The two AUCs come from independent samples, so their errors add in quadrature; a reference without
    a standard error is taken as exact, `performance_drop` then being the only margin for its error."""
    if estimate is None or reference_auc is None:
        return None, None, None
    drop = reference_auc - estimate.auc
    standard_error = math.hypot(estimate.standard_error, reference_se or 0.0)
    return drop, standard_error, drop - NormalDist().inv_cdf(policy.performance_confidence) * standard_error


def _reasons(
    share: float,
    policy: DriftPolicyFields,
    columns: list[ColumnDrift],
    prediction: ColumnDrift | None,
    performance: Performance | None,
) -> list[str]:
    drifted = [c.column for c in columns if c.drifted]
    reasons = []
    if drifted and share >= policy.drift_share:
        reasons.append(f"{share:.0%} of features drifted (>= {policy.drift_share:.0%}): {', '.join(drifted)}")
    checked = [*columns, prediction] if prediction is not None else columns
    reasons += [
        f"{c.column}: {c.null_share_current:.0%} null (reference {c.null_share_reference:.0%})"
        for c in checked
        if c.null_share_drifted
    ]
    if prediction is not None and prediction.score >= prediction.threshold:
        reasons.append(f"prediction distribution drifted ({prediction.method} {prediction.score:.3f})")
    if performance is not None and performance.drifted:
        reasons.append(_performance_reason(performance))
    return reasons


def _performance_reason(performance: Performance) -> str:
    p = performance
    return (
        f"ROC AUC {p.current_auc:.3f} fell {p.drop:.3f} below the reference {p.reference_auc:.3f}: at least "
        f"{p.drop_lower_bound:.3f} at {p.confidence:.1%} confidence, more than the {p.threshold:.3f} allowed "
        f"({p.positives} positives, {p.negatives} negatives)"
    )
