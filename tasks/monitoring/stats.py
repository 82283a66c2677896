"""Drift statistics over 1-D numpy arrays: reference summaries fitted once, distances against a current sample.

Numeric columns are summarised by a reference quantile grid (unique values at GRID_SIZE + 1 levels, min and max
included; every distinct value when there are no more than that, so rare integer values are not bridged over) and the
reference CDF on it. One `searchsorted` + `bincount` pass of the current values over that grid
yields both metrics:
- PSI over reference-decile bins (the deciles are grid points, so the fine counts aggregate into them exactly);
- Wasserstein-1 normalised by the reference std (Evidently's formula) as the integral of |F_ref - F_cur| over the
  grid steps, plus the current mass outside the reference range computed exactly.
Categorical columns compare category proportions with an "other/unseen" bucket last. Nulls never reach here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.spatial import distance

GRID_SIZE = 1000
PSI_BINS = 10
EPS = 1e-4
MIN_STD = 1e-3  # Evidently's floor for the Wasserstein normalisation


@dataclass(frozen=True)
class NumericSummary:
    grid: np.ndarray  # unique reference quantiles, ascending, grid[0] = min, grid[-1] = max
    cdf: np.ndarray  # reference share below grid[i + 1], for each step [grid[i], grid[i + 1])
    edges: np.ndarray  # interior PSI bin edges (reference deciles), a subset of grid
    proportions: np.ndarray  # reference share per PSI bin
    std: float
    discrete: bool  # every reference value is a grid point: the CDF is a step function on the grid


def fit_numeric(values: np.ndarray) -> NumericSummary:
    """Summarise non-null reference values; `inverted_cdf` keeps grid points on observed values (exact for ints)."""
    levels = np.linspace(0.0, 1.0, GRID_SIZE + 1)
    quantiles = np.quantile(values, levels, method="inverted_cdf")
    distinct = np.unique(values)
    grid = distinct if distinct.size <= levels.size else np.unique(quantiles)
    edges = np.unique(quantiles[GRID_SIZE // PSI_BINS : GRID_SIZE : GRID_SIZE // PSI_BINS])
    counts = fine_counts(values, grid)
    return NumericSummary(
        grid=grid,
        cdf=step_cdf(counts),
        edges=edges,
        proportions=psi_counts(counts, grid, edges) / values.size,
        std=max(float(np.std(values)), MIN_STD),
        discrete=distinct.size == grid.size,
    )


def non_null(series: pl.Series) -> tuple[np.ndarray, float]:
    """Float values without nulls or NaNs, and the share of rows that were missing."""
    values = series.cast(pl.Float64).to_numpy()
    kept = values[~np.isnan(values)]
    return kept, missing_share(kept.size, series.len())


def category_counts(series: pl.Series) -> tuple[dict[str, int], float]:
    """Value counts of the non-null values as strings (booleans become 'true'/'false'), and the null share."""
    text = series.cast(pl.String).drop_nulls()
    counts = text.value_counts(sort=True)
    shares = dict(zip(counts[text.name].to_list(), counts["count"].to_list(), strict=True))
    return shares, missing_share(text.len(), series.len())


def missing_share(kept: int, rows: int) -> float:
    """Share of rows without a value; an empty batch misses nothing (it must not read as 100% null)."""
    return 1.0 - kept / rows if rows else 0.0


def fine_counts(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Counts per grid step: index 0 below grid[0], i + 1 for [grid[i], grid[i + 1]), last at or above grid[-1]."""
    return np.bincount(np.searchsorted(grid, values, side="right"), minlength=grid.size + 1)


def step_cdf(counts: np.ndarray) -> np.ndarray:
    """Share of values below grid[i + 1] for each interior step i (the CDF on that step for discrete data)."""
    return np.cumsum(counts)[1:-1] / max(int(counts.sum()), 1)


def psi_counts(counts: np.ndarray, grid: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Aggregate fine counts into PSI bins: every fine step lies inside exactly one decile bin."""
    lower_bounds = np.concatenate(([-np.inf], grid))
    return np.bincount(np.searchsorted(edges, lower_bounds, side="right"), weights=counts, minlength=edges.size + 1)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two proportion vectors, empty bins clipped to EPS."""
    ref, cur = np.clip(reference, EPS, None), np.clip(current, EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def numeric_distances(values: np.ndarray, summary: NumericSummary) -> tuple[float, float]:
    """(PSI, normalised Wasserstein-1) of current non-null values against a reference summary."""
    if values.size == 0:
        return 0.0, 0.0
    counts = fine_counts(values, summary.grid)
    current_psi = psi(summary.proportions, psi_counts(counts, summary.grid, summary.edges) / values.size)
    interior = _interior_w1(summary, counts, values.size)
    # Outside the reference range F_ref is 0 (below) or 1 (above): those integrals are exact current means.
    below = float(np.maximum(summary.grid[0] - values, 0.0).sum()) / values.size
    above = float(np.maximum(values - summary.grid[-1], 0.0).sum()) / values.size
    return current_psi, (interior + below + above) / summary.std


def _interior_w1(summary: NumericSummary, counts: np.ndarray, size: int) -> float:
    """Integral of |F_ref - F_cur| over the reference range: exact steps for discrete data, and for continuous
    data the CDF difference taken as linear across each step (both CDFs are known at both ends of it)."""
    right = summary.cdf - step_cdf(counts)
    widths = np.diff(summary.grid)
    if summary.discrete:
        return float(np.sum(np.abs(right) * widths))
    left = np.concatenate(([-counts[0] / size], right[:-1]))
    same_sign = left * right >= 0
    magnitude = np.abs(left) + np.abs(right)
    crossing = np.divide(left**2 + right**2, 2 * magnitude, out=np.zeros_like(magnitude), where=magnitude > 0)
    return float(np.sum(np.where(same_sign, magnitude / 2, crossing) * widths))


def category_shares(categories: list[str], counts: dict[str, int]) -> np.ndarray:
    """Proportions per known category, with every other value (unseen or rare) in the last bucket."""
    known = np.array([counts.get(c, 0) for c in categories] + [0], dtype=np.float64)
    listed = set(categories)
    known[-1] = sum(n for value, n in counts.items() if value not in listed)
    total = known.sum()
    return known / total if total else known


def categorical_distance(method: str, reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log, as Evidently) or PSI between two category share vectors."""
    if current.sum() == 0:
        return 0.0
    if method == "psi":
        return psi(reference, current)
    return float(distance.jensenshannon(reference, current))
