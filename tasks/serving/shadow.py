"""Champion against challenger on the same online records (pure): how alike their answers are, and their speed."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel


class ShadowSummary(BaseModel):
    """One flush of shadow (or canary-free) comparisons: both versions scored every one of these rows."""

    dataset: str
    champion_version: str
    challenger_version: str
    rows: int
    agreement: float  # share of rows both put on the same side of the decision threshold
    rank_correlation: float  # Spearman: do they order applicants alike
    score_distance: float  # Kolmogorov-Smirnov distance between the two score distributions
    champion_p95_ms: float
    challenger_p95_ms: float
    decision_threshold: float


def timed_scores(
    score: Callable[[int, int | None], np.ndarray], rows: int, chunk: int, chunks: int
) -> tuple[np.ndarray, np.ndarray]:
    """The scores of `rows` rows, and how long each of the first `chunks` request-sized chunks took in ms.

    `score(start, length)` scores a slice (`length` None: to the end). The timed chunks are the first rows' scores,
    since rows score alike alone or together, and the rest is scored in one call: no second pass for the timing."""
    timed = min(rows, chunk * chunks)
    parts, timings = [], []
    for start in range(0, timed, chunk):
        began = time.perf_counter()
        parts.append(score(start, min(chunk, timed - start)))
        timings.append(1000.0 * (time.perf_counter() - began))
    if rows > timed:
        parts.append(score(timed, None))
    return np.concatenate(parts) if parts else np.empty(0), np.asarray(timings)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (ties broken by position: scores are continuous); NaN with fewer than two rows or no spread."""
    if a.size < 2:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The largest gap between the two empirical distribution functions."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


def summarise(
    names: tuple[str, str, str],
    champion: np.ndarray,
    challenger: np.ndarray,
    latencies_ms: tuple[np.ndarray, np.ndarray],
    threshold: float,
) -> ShadowSummary:
    """`names` is (dataset, champion version, challenger version); scores are of the same rows, in order."""
    dataset, champion_version, challenger_version = names
    return ShadowSummary(
        dataset=dataset,
        champion_version=champion_version,
        challenger_version=challenger_version,
        rows=int(champion.size),
        agreement=float(np.mean((champion >= threshold) == (challenger >= threshold))),
        rank_correlation=rank_correlation(champion, challenger),
        score_distance=ks_distance(champion, challenger),
        champion_p95_ms=float(np.percentile(latencies_ms[0], 95)),
        challenger_p95_ms=float(np.percentile(latencies_ms[1], 95)),
        decision_threshold=threshold,
    )
