"""The pure configuration models: what a dataset declares and what the drift policy decides with.

Plain pydantic, so pure code (contract, training, drift, gates) takes them without importing Prefect; the Block
classes in `blocks.models` add only what the UI needs (name, description) on top of these fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DatasetFields(BaseModel):
    """A dataset: its Pandera contract, key columns, model name and training window."""

    contract: str = Field(
        description="Import path of the Pandera polars DataFrameModel, as 'package.module:ClassName'."
    )
    target: str = Field(description="Binary target column (0/1).")
    id_column: str = Field(description="Unique row id column; never used as a feature.")
    event_time_column: str | None = Field(default=None, description="Event timestamp column; never used as a feature.")
    categorical_columns: list[str] = Field(
        default_factory=list, description="String columns encoded to integer codes for LightGBM."
    )
    sensitive_columns: list[str] = Field(
        default_factory=list,
        description="Columns never used as features or monitored for drift, kept for the promotion policy's slice and "
        "fairness gates: a protected attribute is judged, not learned from.",
    )
    model_name: str = Field(description="Registered model name in MLflow.")
    train_batches: int = Field(
        default=8, ge=2, description="How many of the newest validated batches form the training window."
    )
    holdout_rows: int = Field(
        default=4000, ge=200, description="Newest labelled rows held out for promotion; never trained on."
    )
    reference_rows: int = Field(
        default=20000, ge=1000, description="Rows in the bounded reference sample stored with each model."
    )
    min_onset_rows: int = Field(
        default=6000,
        ge=500,
        description="Labelled rows needed since a drift onset before a retrain trains on the new regime only.",
    )


class DriftPolicyFields(BaseModel):
    """How monitoring decides drift, and how often drift may cause a retrain."""

    numeric_method: Literal["psi", "wasserstein"] = Field(
        default="wasserstein",
        description="Distance for numeric columns: Wasserstein-1 normalised by the reference std (Evidently's formula, "
        "so its report agrees by construction), or PSI over reference-decile bins. p-value tests flag everything at "
        "1M rows. Its threshold is the method's own field below.",
    )
    categorical_method: Literal["jensenshannon", "psi"] = Field(
        default="jensenshannon",
        description="Distance for categorical and boolean columns. Its threshold is the method's own field below.",
    )
    wasserstein_threshold: float = Field(
        default=0.1,
        gt=0,
        description="A column compared by Wasserstein-1 (in reference standard deviations) drifts at or above this.",
    )
    psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="A column compared by PSI (numeric or categorical) drifts at or above this; 0.1 is the usual "
        "'moderate' and 0.2 the usual 'significant' shift.",
    )
    jensenshannon_threshold: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="A column compared by Jensen-Shannon distance (natural log, at most 0.83) drifts at or above this.",
    )
    drift_share: float = Field(
        default=0.25, gt=0, le=1, description="The batch drifts when this share of feature columns drift."
    )
    null_share_increase: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="A column drifts, and so does the batch, when its share of nulls is more than this above the "
        "reference's (0.2: 2% -> 23%). A column that turns entirely null always drifts.",
    )
    performance_drop: float = Field(
        default=0.02,
        gt=0,
        lt=1,
        description="Labelled batches: the batch drifts when its ROC AUC is below the reference AUC by more than "
        "this, with the confidence below (the drop's one-sided lower bound must exceed it, so small noisy batches do "
        "not alarm).",
    )
    performance_confidence: float = Field(
        default=0.975,
        gt=0.5,
        lt=1,
        description="Confidence of the AUC drop's lower bound (DeLong standard error of the batch's AUC). Higher: "
        "fewer false alarms on small batches, real drops need more labelled rows to be caught.",
    )
    min_positives: int = Field(
        default=30,
        ge=1,
        description="Labelled batches with fewer positive labels than this leave the performance rule inconclusive "
        "(recorded, never drift).",
    )
    min_negatives: int = Field(
        default=30,
        ge=1,
        description="Labelled batches with fewer negative labels than this leave the performance rule inconclusive "
        "(recorded, never drift).",
    )
    confirm_batches: int = Field(
        default=2,
        ge=1,
        description="A drift episode is confirmed, and retrained, only when this many consecutive batches (by ingest "
        "order) drift; a quiet batch before that closes it as transient. One unusual batch never retrains.",
    )
    confirm_performance_drop: float = Field(
        default=0.08,
        gt=0,
        le=1,
        description="A labelled batch whose AUC fell at least this much (the drop's lower bound) confirms its episode "
        "at once: concept drift hurts from the first batch.",
    )
    min_reference_batches: int = Field(
        default=2,
        ge=1,
        description="A drift-caused version's reference is drawn from at least this many post-onset batches; until "
        "they are in the lake the retrain waits, saying so.",
    )
    min_reference_rows: int = Field(
        default=5000,
        ge=1,
        description="...and from at least this many post-onset rows: the new regime, never a sliver of it.",
    )
    report_rows: int = Field(default=5000, ge=100, description="Seeded sample size for the Evidently report.")
    report_batches: Literal["every", "drifted", "none"] = Field(
        default="every",
        description="Which checked batches get Evidently's HTML report: every one, only those the engine finds "
        "drifted, or none (a report costs seconds and megabytes; with frequent batches, quiet ones rarely need one, "
        "and the engine's verdicts, summaries and alerts do not depend on it).",
    )
    retrain_budget: int = Field(
        default=3, ge=1, description="At most this many retrain attempts per model per period, failed ones included."
    )
    budget_period_hours: float = Field(default=24.0, gt=0, description="Length of the retrain budget period.")
    alert_if_no_check_hours: float = Field(
        default=6.0,
        ge=10 / 3600,
        description="Notify (driftloop-alerts block) when a model had no drift check for this long; `driftloop up` "
        "applies it.",
    )
    retry_backoff_minutes: float = Field(
        default=60.0,
        ge=0,
        description="After a rejected or failed retrain, the champion's drift episode reopens this long after.",
    )
    retry_after_rows: int = Field(
        default=20000,
        ge=0,
        description="...or sooner, once this many new labelled rows were ingested after the attempt ended.",
    )
    attempt_lease_minutes: float = Field(
        default=60.0,
        gt=0,
        description="A retrain attempt holds its episode this long; one whose process died frees it when this ends.",
    )

    def method_threshold(self, method: Literal["psi", "wasserstein", "jensenshannon"]) -> float:
        """The threshold of a distance method, whichever kind of column it compares."""
        thresholds = {
            "psi": self.psi_threshold,
            "wasserstein": self.wasserstein_threshold,
            "jensenshannon": self.jensenshannon_threshold,
        }
        return thresholds[method]
