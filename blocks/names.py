"""Names of the block documents driftloop loads; one place, so flows never spell a block name."""

from __future__ import annotations

STORAGE = "driftloop-storage"
MLFLOW = "driftloop-mlflow"
DRIFT_POLICY = "driftloop-drift"
PROMOTION_POLICY = "driftloop-promotion"
LOCAL_CREDENTIALS = "driftloop-local"
DEMO_DATASET = "credit"
