"""One predict request, from checked records to the answer: who scores which record (canary by id hash), the scores,
and the online log entry."""

from __future__ import annotations

import numpy as np
import polars as pl

from deployments.serve.catalog import Served
from tasks.model.records import LoadedModel
from tasks.model.scoring import predict
from tasks.serving.routing import to_challenger


def route(served: Served, ids: list[str]) -> np.ndarray:
    """True where the challenger answers: only in canary mode, with a challenger loaded."""
    if served.policy.mode != "canary" or served.challenger is None:
        return np.zeros(len(ids), dtype=bool)
    return to_challenger(ids, served.policy.canary_percent)


def score(served: Served, frame: pl.DataFrame, canary: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each record's score and the version that gave it; each model scores only its own records."""
    assert served.champion is not None
    champion, challenger = served.champion, served.challenger
    if challenger is None or not canary.any():
        return _predict(served, champion, frame), [champion.version] * frame.height
    if canary.all():
        return _predict(served, challenger, frame), [challenger.version] * frame.height
    scores = np.empty(frame.height)
    scores[~canary] = _predict(served, champion, frame.filter(pl.Series(~canary)))
    scores[canary] = _predict(served, challenger, frame.filter(pl.Series(canary)))
    return scores, [challenger.version if c else champion.version for c in canary]


def _predict(served: Served, model: LoadedModel, frame: pl.DataFrame) -> np.ndarray:
    return predict(model, frame, served.cfg.columns)
