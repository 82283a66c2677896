"""The human drift report: Evidently's DataDriftPreset on bounded seeded samples, with the policy's methods.

Evidently is far too slow for the gate on full batches, so the verdict comes from `tasks.monitoring.drift` and this
report renders the same comparison for people, on at most `policy.report_rows` rows per side. Methods and thresholds
are set explicitly so the report's per-column verdicts are comparable with the engine's.

Evidently is imported where a report is built, not with this module: importing it takes four seconds of CPU, which
every monitor run (a process of its own on the worker) would pay even when the policy renders no report for its batch.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pydantic import BaseModel

from tasks.monitoring.models import EvidentlyColumn
from tasks.platform.contract import Columns
from tasks.platform.specs import DriftPolicyFields

if TYPE_CHECKING:
    from evidently import Report

SAMPLE_SEED = 20240611


class EvidentlyReport(BaseModel):
    """The rendered HTML and Evidently's own per-column verdicts."""

    html: str
    reference_rows: int
    current_rows: int
    columns: list[EvidentlyColumn]
    drift_share: float


def bounded_sample(frame: pl.DataFrame, rows: int, seed: int = SAMPLE_SEED) -> pl.DataFrame:
    """At most `rows` rows, the same rows for the same frame and seed."""
    return frame if frame.height <= rows else frame.sample(n=rows, seed=seed)


def drift_preset(columns: Columns, policy: DriftPolicyFields) -> Report:
    """Evidently's DataDriftPreset over the feature columns with the policy's methods and thresholds: the same
    statistics as the fast engine, so the human report agrees with the verdict. Evidently takes one threshold per
    column kind; each kind gets the threshold of the method the policy chose for it. (The null-share and
    performance rules are the engine's own: Evidently's per-column verdicts see only the distances.)"""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset(
        columns=list(columns.features),
        num_method=policy.numeric_method,
        cat_method=policy.categorical_method,
        num_threshold=policy.method_threshold(policy.numeric_method),
        cat_threshold=policy.method_threshold(policy.categorical_method),
        drift_share=policy.drift_share,
    )
    return Report([preset], include_tests=True)


def evidently_drift(
    reference: pl.DataFrame, current: pl.DataFrame, columns: Columns, policy: DriftPolicyFields
) -> EvidentlyReport:
    """Run DataDriftPreset over the feature columns only (ids, times and the target never enter it)."""
    from evidently import DataDefinition, Dataset

    features = list(columns.features)
    definition = DataDefinition(numerical_columns=list(columns.numeric), categorical_columns=list(columns.categorical))
    snapshot = drift_preset(columns, policy).run(
        current_data=Dataset.from_pandas(current.select(features).to_pandas(), data_definition=definition),
        reference_data=Dataset.from_pandas(reference.select(features).to_pandas(), data_definition=definition),
    )
    parsed = _per_column(snapshot.dict())
    return EvidentlyReport(
        html=_html(snapshot),
        reference_rows=reference.height,
        current_rows=current.height,
        columns=parsed,
        drift_share=sum(c.drifted for c in parsed) / max(len(parsed), 1),
    )


def sampled_report(
    reference: pl.DataFrame, current: pl.DataFrame, columns: Columns, policy: DriftPolicyFields
) -> EvidentlyReport:
    """The report on seeded samples of at most `policy.report_rows` rows per side."""
    rows = policy.report_rows
    return evidently_drift(bounded_sample(reference, rows), bounded_sample(current, rows), columns, policy)


def _per_column(snapshot: dict[str, Any]) -> list[EvidentlyColumn]:
    """Distance methods drift at score >= threshold (the rule Evidently's own tests apply to them)."""
    columns = []
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        score, threshold = float(metric["value"]), float(config["threshold"])
        columns.append(
            EvidentlyColumn(
                column=config["column"],
                method=config["method"],
                score=score,
                threshold=threshold,
                drifted=score >= threshold,
            )
        )
    return columns


def _html(snapshot: Any) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "report.html"
        snapshot.save_html(str(path))
        return path.read_text(encoding="utf-8")
