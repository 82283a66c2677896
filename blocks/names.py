"""Names of the block documents driftloop loads; one place, so flows never spell a block name."""

from __future__ import annotations

STORAGE = "driftloop-storage"
MLFLOW = "driftloop-mlflow"
DRIFT_POLICY = "driftloop-drift"
PROMOTION_POLICY = "driftloop-promotion"
LOCAL_CREDENTIALS = "driftloop-local"
# Prefect keeps the results it persists (a Failed run's exception, a paused run's input) in this S3 bucket block.
RESULTS = "driftloop-results"  # prefect.yaml sets PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=s3-bucket/driftloop-results
DEMO_DATASET = "credit"


def serving_policy(dataset: str) -> str:
    """The serving policy document of a dataset (one per dataset: canary and shadow are decided per model)."""
    return f"driftloop-serving-{dataset}"
