"""One predict request, from checked records to the answer: who scores which record (canary by id hash), the scores,
and the online log entry."""

from __future__ import annotations

import numpy as np

from deployments.serve.catalog import Served
from tasks.model.records import LoadedModel
from tasks.model.training import predict_scores
from tasks.serving.checked import Checked
from tasks.serving.routing import to_challenger


def route(served: Served, ids: list[str]) -> np.ndarray:
    """True where the challenger answers: only in canary mode, with a challenger loaded."""
    if served.policy.mode != "canary" or served.challenger is None:
        return np.zeros(len(ids), dtype=bool)
    return to_challenger(ids, served.policy.canary_percent)


def shadowed(served: Served) -> str:
    """The challenger version that scores a request's records in shadow, as the online log lands them ("": none)."""
    return served.challenger.version if served.policy.mode == "shadow" and served.challenger is not None else ""


def shadows(served: Served, version: str) -> bool:
    """Whether `served` lands a request as the server answered it: in shadow of `version` ("": of none needed)."""
    return not version or shadowed(served) == version


def score(served: Served, records: Checked, canary: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each record's score and the version that gave it; each model scores only its own records."""
    assert served.champion is not None
    champion, challenger = served.champion, served.challenger
    if challenger is None or not canary.any():  # route() sends nothing to a challenger outside canary mode
        return _predict(served, champion, records), [champion.version] * records.height
    if canary.all():
        return _predict(served, challenger, records), [challenger.version] * records.height
    scores = np.empty(records.height)
    scores[~canary] = _predict(served, champion, records.subset(~canary))
    scores[canary] = _predict(served, challenger, records.subset(canary))
    return scores, [challenger.version if c else champion.version for c in canary]


def _predict(served: Served, model: LoadedModel, records: Checked) -> np.ndarray:
    # One thread: for the few rows of a request, starting LightGBM's thread pool costs more than the prediction.
    return predict_scores(model.booster, records.matrix(served.cfg.columns, model.mapping), threads=1)
