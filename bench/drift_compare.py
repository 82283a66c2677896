"""The two sides of the drift benchmark's comparison: the fast engine timed as the monitor flow uses it, Evidently's
DataDriftPreset timed on the same frames, and how far their per-column verdicts agree."""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

import polars as pl

from blocks.models import DriftPolicy
from tasks.monitoring.drift import DriftProfile, DriftVerdict, check_drift, fit_profile
from tasks.platform.contract import Columns

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]


def time_fast(
    reference: pl.DataFrame, current: pl.DataFrame, columns: Columns, policy: DriftPolicy, repeats: int
) -> tuple[DriftVerdict, list[float], float, DriftProfile]:
    """Fit the profile once, store/load it as JSON (as the registry keeps it), then time `check_drift` `repeats`
    times."""
    started = time.perf_counter()
    profile = fit_profile(reference, columns)
    profile_seconds = time.perf_counter() - started
    profile = DriftProfile.model_validate_json(profile.model_dump_json())
    timings: list[float] = []
    verdict: DriftVerdict | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        verdict = check_drift(current, profile, policy)
        timings.append(time.perf_counter() - started)
    assert verdict is not None
    return verdict, timings, profile_seconds, profile


def time_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, columns: Columns, policy: DriftPolicy
) -> tuple[dict[str, tuple[float, bool]], float, float]:
    """DataDriftPreset with the policy's methods and thresholds; per-column (score, drifted), run and dict seconds.

    Evidently is imported here so the memory child of bench.drift does not load it (~140 MB of RSS).
    """
    from evidently import DataDefinition, Dataset

    from tasks.monitoring.report import drift_preset

    definition = DataDefinition(numerical_columns=list(columns.numeric), categorical_columns=list(columns.categorical))
    report = drift_preset(columns, policy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        snapshot = report.run(
            current_data=Dataset.from_pandas(current, data_definition=definition),
            reference_data=Dataset.from_pandas(reference, data_definition=definition),
        )
        run_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = snapshot.dict()
        dict_seconds = time.perf_counter() - started
    verdicts: dict[str, tuple[float, bool]] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if str(config.get("type", "")).endswith("ValueDrift"):
            score = float(metric["value"])
            verdicts[str(config["column"])] = (score, score >= float(config["threshold"]))  # distance methods
    return verdicts, run_seconds, dict_seconds


def agreement(verdict: DriftVerdict, theirs: dict[str, tuple[float, bool]]) -> str:
    """How often the per-column verdicts match, and the largest score difference."""
    matched = [c for c in verdict.columns if c.column in theirs]
    agreed = sum(c.drifted == theirs[c.column][1] for c in matched)
    worst = max(matched, key=lambda c: abs(c.score - theirs[c.column][0]), default=None)
    detail = ""
    if worst is not None:
        delta = abs(worst.score - theirs[worst.column][0])
        detail = f"; max |score diff| {delta:.4f} ({worst.column}: {worst.score:.4f} vs {theirs[worst.column][0]:.4f})"
    disagreements = [c.column for c in matched if c.drifted != theirs[c.column][1]]
    return f"verdicts agree on {agreed}/{len(matched)} columns{detail}" + (
        f"; disagree on {', '.join(disagreements)}" if disagreements else ""
    )
