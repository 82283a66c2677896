"""The fast drift engine: a reference profile fitted once at training time, checked against each batch.

Pure functions over polars frames and numpy arrays, no I/O. The statistics live in `tasks.drift_stats`; this module
decides which columns get which method and turns distances into a verdict a human can read.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tasks.model.metrics import roc_auc
from tasks.monitoring import stats
from tasks.monitoring.models import ColumnDrift, ColumnProfile, DriftProfile, DriftVerdict, Performance
from tasks.platform.contract import Columns
from tasks.platform.specs import DriftPolicyFields

PREDICTION = "prediction"
MAX_CATEGORIES = 50  # rarer reference categories share the "other/unseen" bucket
MIN_LABELLED = 200  # fewer labelled rows than this give too noisy an AUC to call a performance drop

__all__ = ["ColumnDrift", "ColumnProfile", "DriftProfile", "DriftVerdict", "Performance", "check_drift", "fit_profile"]


def fit_profile(
    reference: pl.DataFrame,
    columns: Columns,
    predictions: np.ndarray | None = None,
    reference_auc: float | None = None,
) -> DriftProfile:
    """Profile every feature of `reference` (and the reference predictions, if given)."""
    profiles = [_fit_column(reference.get_column(c), c in columns.numeric) for c in columns.features]
    prediction = _fit_column(pl.Series(PREDICTION, predictions), True) if predictions is not None else None
    return DriftProfile(rows=reference.height, columns=profiles, prediction=prediction, reference_auc=reference_auc)


def check_drift(
    current: pl.DataFrame,
    profile: DriftProfile,
    policy: DriftPolicyFields,
    predictions: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> DriftVerdict:
    """Compare a batch with the reference profile; drift = enough drifted features, drifted predictions, or an
    AUC drop on labelled rows (which catches concept drift that leaves the marginals unchanged)."""
    results = [_check_column(current.get_column(p.column), p, policy) for p in profile.columns]
    drifted_columns = [r.column for r in results if r.drifted]
    share = len(drifted_columns) / max(len(results), 1)
    prediction = None
    if predictions is not None and profile.prediction is not None:
        prediction = _check_column(pl.Series(PREDICTION, predictions), profile.prediction, policy)
    performance = _performance(predictions, labels, profile.reference_auc, policy)
    reasons = _reasons(share, policy, drifted_columns, prediction, performance)
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
    if profile.kind == "numeric":
        values, null_share = stats.non_null(series)
        psi, wasserstein = stats.numeric_distances(values, _summary(profile))
        method: str = policy.numeric_method
        threshold = policy.numeric_threshold
        score = psi if method == "psi" else wasserstein
    else:
        counts, null_share = stats.category_counts(series)
        current = stats.category_shares(profile.categories, counts)
        method, threshold = policy.categorical_method, policy.categorical_threshold
        score = stats.categorical_distance(method, np.array(profile.proportions), current)
    return ColumnDrift(
        column=profile.column,
        kind=profile.kind,
        method=method,
        score=score,
        threshold=threshold,
        drifted=score >= threshold,
        null_share_reference=profile.null_share,
        null_share_current=null_share,
    )


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
    predictions: np.ndarray | None, labels: np.ndarray | None, reference_auc: float | None, policy: DriftPolicyFields
) -> Performance | None:
    if predictions is None or labels is None:
        return None
    labelled = ~np.isnan(labels.astype(np.float64)) & ~np.isnan(predictions.astype(np.float64))
    current_auc = None
    if int(labelled.sum()) >= MIN_LABELLED:
        current_auc = roc_auc(labels[labelled].astype(np.int64), predictions[labelled].astype(np.float64))
    drop = reference_auc - current_auc if reference_auc is not None and current_auc is not None else None
    return Performance(
        labelled_rows=int(labelled.sum()),
        current_auc=current_auc,
        reference_auc=reference_auc,
        drop=drop,
        threshold=policy.performance_drop,
        drifted=drop is not None and drop >= policy.performance_drop,
    )


def _reasons(
    share: float,
    policy: DriftPolicyFields,
    drifted_columns: list[str],
    prediction: ColumnDrift | None,
    performance: Performance | None,
) -> list[str]:
    reasons = []
    if drifted_columns and share >= policy.drift_share:
        reasons.append(f"{share:.0%} of features drifted (>= {policy.drift_share:.0%}): {', '.join(drifted_columns)}")
    if prediction is not None and prediction.drifted:
        reasons.append(f"prediction distribution drifted ({prediction.method} {prediction.score:.3f})")
    if performance is not None and performance.drifted and performance.drop is not None:
        reasons.append(f"ROC AUC fell {performance.drop:.3f} below the reference {performance.reference_auc:.3f}")
    return reasons
