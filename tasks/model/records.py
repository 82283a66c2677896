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
