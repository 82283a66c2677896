"""The drift engine's data: reference profiles (stored with each model version) and verdicts (persisted per batch).

Serialise with `.model_dump_json()`, load with `.model_validate_json(...)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tasks.model.bake import BakeVerdict

PROFILE_VERSION = 1


class ColumnProfile(BaseModel):
    """The reference distribution of one column; nulls are excluded and their share kept apart."""

    column: str
    kind: Literal["numeric", "categorical"]
    rows: int
    null_share: float
    grid: list[float] = Field(default_factory=list, description="Reference quantile grid (unique, min..max).")
    grid_cdf: list[float] = Field(default_factory=list, description="Reference CDF on each grid step.")
    bin_edges: list[float] = Field(default_factory=list, description="Interior PSI bin edges (reference deciles).")
    bin_proportions: list[float] = Field(default_factory=list, description="Reference share per PSI bin.")
    std: float = 0.0
    discrete: bool = False
    categories: list[str] = Field(default_factory=list)
    proportions: list[float] = Field(default_factory=list, description="Per category, then 'other/unseen' last.")


class DriftProfile(BaseModel):
    """Everything monitoring needs about a model's reference, stored with the model version."""

    version: int = PROFILE_VERSION
    numeric_methods: list[str] = ["psi", "wasserstein"]
    categorical_methods: list[str] = ["jensenshannon", "psi"]
    rows: int
    columns: list[ColumnProfile]
    prediction: ColumnProfile | None = None
    reference_auc: float | None = None
    reference_auc_se: float | None = Field(
        default=None, description="Standard error of reference_auc; None: taken as exact (profiles before it)."
    )


class ColumnDrift(BaseModel):
    """One column's verdict: drifted by its distance (score >= threshold) or by a rise in its share of nulls.

    The distance compares the non-null values only; a column with none left scores 0.0 and `null_share_drifted`
    says why that is no comfort.
    """

    column: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool
    null_share_reference: float
    null_share_current: float
    null_share_drifted: bool = False  # default: summaries persisted before the null-share rule


class Performance(BaseModel):
    """The performance rule on a batch's labelled rows: drifted when, at `confidence`, the ROC AUC fell more than
    `threshold` below the reference, i.e. `drop_lower_bound` > `threshold`. Too few positives or negatives, or no
    reference AUC, make it `inconclusive`: recorded, never drift. Fields defaulting to None predate the rule."""

    labelled_rows: int
    positives: int | None = None
    negatives: int | None = None
    current_auc: float | None
    reference_auc: float | None
    drop: float | None
    standard_error: float | None = Field(
        default=None, description="Of the drop: current_auc's DeLong error, plus the reference's when profiled."
    )
    confidence: float | None = None
    drop_lower_bound: float | None = Field(default=None, description="At `confidence`, the AUC fell at least this.")
    threshold: float
    inconclusive: bool = False
    drifted: bool


class DriftVerdict(BaseModel):
    rows: int
    columns: list[ColumnDrift]
    drifted_columns: list[str]
    drift_share: float
    drift_share_threshold: float
    prediction: ColumnDrift | None
    performance: Performance | None
    drifted: bool
    reasons: list[str]


class EvidentlyColumn(BaseModel):
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


class RenderedReport(BaseModel):
    uri: str
    columns: list[EvidentlyColumn]


class MonitorSummary(BaseModel):
    """One monitoring decision: what was compared with what, the verdict, and where its evidence lives."""

    dataset: str
    model: str
    champion_version: str
    tenure: int = 0  # the history record that made the champion: drift episodes and the retrain cooldown follow it
    batch_id: str
    checked_at: datetime
    drifted: bool
    reasons: list[str]
    drifted_columns: list[str]
    drift_share: float
    columns: list[ColumnDrift]
    prediction: ColumnDrift | None
    performance: Performance | None
    onset_batch_id: str | None
    confirmed: bool = False  # the episode holds confirm_batches drifted batches (or a strong AUC drop): retrained
    episode_batches: list[str] = []  # the drifted batches of the episode, onset first
    transient_batches: list[str] = []  # a quiet batch: the unconfirmed episode it closed as transient
    report_uri: str | None  # None: no report asked for this batch by the drift policy
    summary_uri: str
    report_agreement: float | None  # share of columns where Evidently's sampled verdict matches the engine's
    bake: BakeVerdict | None = None  # during a new champion's bake period: against the champion it replaced
