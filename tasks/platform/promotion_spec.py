"""The promotion policy's fields, pure: the gates a challenger must pass, the approval a team may require, and the
bake period in which a new champion can still be rolled back automatically.

Plain pydantic like `tasks.platform.specs`; `blocks.models.PromotionPolicy` adds what the UI needs.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class PromotionPolicyFields(BaseModel):
    """The gates a challenger must pass, all of them, before it becomes champion."""

    min_auc: float = Field(default=0.65, ge=0, le=1, description="Absolute floor on holdout ROC AUC.")
    min_lift: float = Field(
        default=0.002, ge=0, description="Minimum ROC AUC improvement over the champion on the same holdout."
    )
    confidence: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description="The bootstrap lower bound of the lift must be above zero at this level.",
    )
    bootstrap_rounds: int = Field(default=200, ge=20, description="Bootstrap resamples of the holdout.")
    max_latency_ms_per_1k: float = Field(
        default=50.0, gt=0, description="Scoring latency SLA, milliseconds per 1,000 rows."
    )
    slice_columns: list[str] = Field(
        default=[],
        description="Categorical columns whose values are groups of customers to judge one by one (e.g. region); a "
        "column a dataset lacks is ignored for it.",
    )
    min_slice_rows: int = Field(default=200, ge=1, description="Smaller slices are reported, not judged.")
    min_slice_auc: float = Field(default=0.0, ge=0, le=1, description="Floor on the challenger's AUC in every slice.")
    max_slice_regression: float = Field(
        default=0.02,
        ge=0,
        description="Largest AUC drop against the champion allowed in any slice (judged only when the drop's "
        "bootstrap lower bound is above zero).",
    )
    max_parity_difference: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Largest demographic-parity difference between the slices of a column (shares of positive "
        "decisions at decision_threshold); empty means not judged.",
    )
    max_equalized_odds_difference: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Largest equalized-odds difference between the slices of a column (the larger spread of their "
        "true-positive and false-positive rates at decision_threshold); empty means not judged.",
    )
    decision_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Score at or above which a row counts as a positive decision."
    )
    require_approval: bool = Field(
        default=False,
        description="After every gate passed, promote waits (Paused) for a person to approve or reject in the UI, "
        "or with `driftloop approve`.",
    )
    approval_timeout_hours: float = Field(
        default=24.0, gt=0, description="With no answer within this long, the challenger is rejected."
    )
    bake_batches: int = Field(
        default=3,
        ge=0,
        description="For this many batches after a promotion, the previous champion also scores each batch (shadow) "
        "and monitor compares the two on its labelled rows; a clear loss rolls the promotion back. 0: no bake.",
    )
    rollback_margin: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="The new champion is rolled back when, at `confidence`, its AUC is below the previous one's on "
        "the same rows by more than this (the drop's bootstrap lower bound exceeds it).",
    )
    min_bake_rows: int = Field(
        default=500,
        ge=1,
        description="Fewer labelled rows in a batch (or one class only) leave its bake check inconclusive: no action.",
    )
    min_shadow_rows: int = Field(
        default=0,
        ge=0,
        description="Online records the challenger must have scored in shadow (model server, serving policy mode "
        "`shadow`) before it may be promoted. 0: not required.",
    )
