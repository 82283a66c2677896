"""Prefect blocks for everything users configure in the UI: storage, tracking, datasets and the two policies."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from prefect.blocks.core import Block
from prefect_aws import AwsCredentials
from pydantic import Field

from tasks.platform.contract import columns_of
from tasks.platform.promotion_spec import PromotionPolicyFields
from tasks.platform.serving_spec import ServingPolicyFields
from tasks.platform.specs import DatasetFields, DriftPolicyFields


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


class DatasetSpec(Block, DatasetFields):
    """A dataset: its Pandera contract, key columns, model name and training window. The document name is the
    dataset name used in S3 keys, events and flow parameters."""

    _block_type_name = "driftloop Dataset"
    _description = "Declares a dataset by its Pandera contract; ingest, train, score and monitor read it."

    # Both of Block's save paths (sync and async) end in one of these two; a contract that does not import, or that
    # lacks a column the block names, is refused here with a ConfigurationError instead of failing every run later.
    def _save_sync(self, *args: Any, **kwargs: Any) -> UUID:
        columns_of(self)
        return super()._save_sync(*args, **kwargs)

    async def _save(self, *args: Any, **kwargs: Any) -> UUID:
        columns_of(self)
        saved: UUID = await super()._save(*args, **kwargs)
        return saved


class DriftPolicy(Block, DriftPolicyFields):
    """How monitoring decides drift, and how often drift may cause a retrain."""

    _block_type_name = "driftloop Drift Policy"
    _description = "Drift methods, thresholds and the retrain budget."


class PromotionPolicy(Block, PromotionPolicyFields):
    """The gates a challenger must pass, all of them, before it becomes champion."""

    _block_type_name = "driftloop Promotion Policy"
    _description = "Absolute floor, minimum lift with a bootstrap bound, and a scoring latency SLA."


class ServingPolicy(Block, ServingPolicyFields):
    """How the model server treats one dataset's challenger: off, shadow or canary; and its online log. The document
    is named `driftloop-serving-<dataset>`; without one the champion answers everything and the log is on."""

    _block_type_name = "driftloop Serving Policy"
    _description = "Canary or shadow for a dataset's challenger, and how the online log is landed."
