"""What a registered version carries in memory: the loaded model that scores, and the record logged with a new one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from tasks.model.features import CategoryMapping


@dataclass(frozen=True)
class LoadedModel:
    """A registered version ready to score: the booster, its mapping and the run that produced it."""

    version: str
    booster: lgb.Booster
    mapping: CategoryMapping
    run_id: str


@dataclass(frozen=True)
class ChallengerRecord:
    """Everything logged with a new version besides the model itself."""

    booster: lgb.Booster
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    files: dict[str, bytes]
    example: np.ndarray


def version_description(record: ChallengerRecord) -> str:
    """Why a version exists, for MLflow's version page: what asked for it, what it learned from, how it scored."""
    onset = record.tags.get("driftloop.onset_batch_id", "")
    trigger = record.tags.get("driftloop.trigger_event_id", "")
    why = f"Retrained for the drift that began at batch {onset}" if onset else "Trained on the normal window"
    asked = f" (event {trigger})" if trigger else " (run by hand or schedule)"
    return (
        f"{why}{asked}, by flow run {record.tags.get('driftloop.flow_run_id') or 'outside Prefect'}: "
        f"{int(record.metrics['train_rows']):,} training rows from {record.params['window_batches']} batches; "
        f"holdout AUC {record.metrics['holdout_auc']:.4f} on {int(record.metrics['holdout_rows']):,} rows."
    )
