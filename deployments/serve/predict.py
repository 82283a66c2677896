"""One predict request, from its bytes to its answer: token, body, dataset, contract, scores, online log, metrics.

Free of any web framework, so the server can call it straight from the ASGI scope (deployments.serve.app): on a
one-record request, FastAPI's routing, dependencies and middleware cost more than checking and scoring the record.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from deployments.serve import answer
from deployments.serve.catalog import Catalog
from deployments.serve.handoff import Handoff
from deployments.serve.metrics import ServerMetrics
from tasks.platform.config import unknown_dataset
from tasks.serving.checks import RequestRejected
from tasks.serving.wire import Scored, encode

UNAUTHORISED = "a bearer token is required (DRIFTLOOP_SERVE_TOKEN)"
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def json_answer(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, orjson.dumps(content), headers or {})


class Predictor:
    def __init__(self, catalog: Catalog, metrics: ServerMetrics, token: str, handoff: Handoff) -> None:
        self.catalog, self.metrics, self._token, self.handoff = catalog, metrics, token.encode(), handoff

    def bearer(self, authorization: str) -> bool:
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), self._token)

    def __call__(self, dataset: str, authorization: str, body: bytes) -> Answer:
        started = time.perf_counter()
        if not self.bearer(authorization):
            return json_answer({"detail": UNAUTHORISED}, 401, CHALLENGE)
        records = _records(body)
        if records is None:
            return json_answer({"detail": 'the body must be JSON: {"records": [{...}, ...]}'}, 422)
        served = self.catalog.get(dataset)
        if served is None:
            self.metrics.requests.labels(dataset, "404", "").inc()
            return json_answer({"detail": unknown_dataset(dataset, sorted(self.catalog.all()))}, 404)
        if served.champion is None:
            self.metrics.requests.labels(dataset, "503", "").inc()
            why = f"{served.cfg.model_name} has no champion yet: run `train`, then `promote`, for dataset {dataset!r}"
            return json_answer({"detail": why, "refused": served.refused}, 503)
        try:
            checked = served.contract.check(records)
        except RequestRejected as exc:
            self.metrics.requests.labels(dataset, "422", served.champion.version).inc()
            failures = [asdict(failure) for failure in exc.failures]
            return json_answer({"detail": f"the records break the contract of {dataset!r}", "failures": failures}, 422)
        ids = checked.ids(served.cfg.columns.id)
        canary = answer.route(served, ids)
        scores, versions = answer.score(served, checked, canary)
        request_id = uuid.uuid4().hex
        elapsed = time.perf_counter() - started
        if served.policy.log_online:  # to the lander: typed, held and landed in a process of its own
            now, shadowed = datetime.now(UTC), answer.shadowed(served)
            scored = Scored(request_id, checked, ids, versions, scores, 1000.0 * elapsed, now, shadowed)
            self.handoff.send(encode(dataset, scored))
        self._count(dataset, served.champion.version, versions, int(canary.sum()), elapsed)
        predictions = [
            {"id": i, "score": s, "version": v} for i, s, v in zip(ids, scores.tolist(), versions, strict=True)
        ]
        content = {"request_id": request_id, "dataset": dataset, "model": served.cfg.model_name}
        return json_answer(content | {"predictions": predictions})

    def _count(self, dataset: str, champion: str, versions: list[str], canary: int, elapsed: float) -> None:
        self.metrics.requests.labels(dataset, "200", champion).inc()
        self.metrics.latency.labels(dataset).observe(elapsed)
        for version, rows in Counter(versions).items():  # each answering version's records, the canary's too
            self.metrics.rows.labels(dataset, version).inc(rows)
        if canary:
            self.metrics.canary.labels(dataset).inc(canary)


def _records(body: bytes) -> list[dict[str, Any]] | None:
    """The body's records, or None when it is not `{"records": [object, ...]}`."""
    try:
        records = orjson.loads(body).get("records")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        return None
    return records
