"""Prefect blocks for everything users configure in the UI: storage, tracking, datasets and the two policies."""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from prefect_aws import AwsCredentials
from pydantic import Field


class StorageLocation(Block):
    """Where driftloop keeps landing/, lake/, quarantine/, predictions/ and reports/: one S3 bucket."""

    _block_type_name = "driftloop Storage"
    _description = "The S3 bucket (AWS or any S3-compatible endpoint) that holds every driftloop object."

    bucket: str = Field(description="Bucket name.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint URL; leave empty for AWS S3.")
    region: str = Field(default="us-east-1", description="Region of the bucket.")
    addressing_style: Literal["path", "virtual", "auto"] = Field(
        default="path", description="'path' suits local and S3-compatible endpoints; 'virtual' suits AWS."
    )
    credentials: AwsCredentials | None = Field(
        default=None,
        description="An AWS Credentials block; leave empty to use the standard AWS credential chain.",
    )


class MlflowTracking(Block):
    """The MLflow tracking server that holds runs, models and the registry."""

    _block_type_name = "driftloop MLflow"
    _description = "MLflow tracking server and experiment naming used by training, promotion and monitoring."

    tracking_uri: str = Field(description="Tracking URI, e.g. http://127.0.0.1:5000.")
    experiment_prefix: str = Field(default="driftloop", description="Experiments are named '<prefix>-<dataset>'.")


class DatasetSpec(Block):
    """A dataset: its Pandera contract, key columns, model name and training window. The document name is the
    dataset name used in S3 keys, events and flow parameters."""

    _block_type_name = "driftloop Dataset"
    _description = "Declares a dataset by its Pandera contract; ingest, train, score and monitor read it."

    contract: str = Field(
        description="Import path of the Pandera polars DataFrameModel, as 'package.module:ClassName'."
    )
    target: str = Field(description="Binary target column (0/1).")
    id_column: str = Field(description="Unique row id column; never used as a feature.")
    event_time_column: str | None = Field(default=None, description="Event timestamp column; never used as a feature.")
    categorical_columns: list[str] = Field(
        default_factory=list, description="String columns encoded to integer codes for LightGBM."
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


class DriftPolicy(Block):
    """How monitoring decides drift, and how often drift may cause a retrain."""

    _block_type_name = "driftloop Drift Policy"
    _description = "Drift methods, thresholds and the retrain budget."

    numeric_method: Literal["psi", "wasserstein"] = Field(
        default="wasserstein",
        description="Distance for numeric columns: Wasserstein-1 normalised by the reference std (Evidently's formula, "
        "so its report agrees by construction), or PSI over reference-decile bins. p-value tests flag everything at "
        "1M rows.",
    )
    numeric_threshold: float = Field(
        default=0.1, gt=0, description="A numeric column drifts at or above this (0.1 for wasserstein, ~0.2 for psi)."
    )
    categorical_method: Literal["jensenshannon", "psi"] = Field(
        default="jensenshannon", description="Distance for categorical and boolean columns."
    )
    categorical_threshold: float = Field(default=0.1, gt=0, description="A categorical column drifts at or above this.")
    drift_share: float = Field(
        default=0.25, gt=0, le=1, description="The batch drifts when this share of feature columns drift."
    )
    performance_drop: float = Field(
        default=0.05, gt=0, description="Labelled batches: ROC AUC this far below the reference AUC is drift."
    )
    report_rows: int = Field(default=5000, ge=100, description="Seeded sample size for the Evidently report.")
    retrain_budget: int = Field(default=3, ge=1, description="At most this many retrains per model per period.")
    budget_period_hours: float = Field(default=24.0, gt=0, description="Length of the retrain budget period.")


class PromotionPolicy(Block):
    """The gates a challenger must pass, all of them, before it becomes champion."""

    _block_type_name = "driftloop Promotion Policy"
    _description = "Absolute floor, minimum lift with a bootstrap bound, and a scoring latency SLA."

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
