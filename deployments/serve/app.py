"""The model server's HTTP API: predict under the dataset's contract, health, readiness, metrics, OpenAPI at /docs.

Requests need `Authorization: Bearer <DRIFTLOOP_SERVE_TOKEN>`; /health and /ready answer anyone (probes of a load
balancer carry no secret) and say nothing a caller could misuse.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from blocks.settings import Settings
from deployments.serve import answer, follow
from deployments.serve.catalog import Catalog
from deployments.serve.metrics import ServerMetrics
from tasks.platform.config import unknown_dataset
from tasks.serving.checks import RequestRejected
from tasks.serving.online_log import Scored


class PredictRequest(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="Records as the dataset's contract declares them; the target column may be absent."
    )


class Prediction(BaseModel):
    id: str
    score: float
    version: str


class PredictResponse(BaseModel):
    request_id: str
    dataset: str
    model: str
    predictions: list[Prediction]


def create_app(settings: Settings) -> FastAPI:
    metrics = ServerMetrics()
    catalog = Catalog(metrics)
    token = settings.serve_token.get_secret_value() if settings.serve_token else ""
    if not token:
        raise ValueError("the model server needs DRIFTLOOP_SERVE_TOKEN: requests are refused without a bearer token")

    def bearer(authorization: str) -> bool:
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), token.encode())

    def authorised(authorization: Annotated[str, Header()] = "") -> None:
        if not bearer(authorization):
            raise HTTPException(401, UNAUTHORISED, {"WWW-Authenticate": "Bearer"})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with follow.running(settings, catalog, metrics):
            yield

    app = FastAPI(title="driftloop model server", lifespan=lifespan)
    guarded = [Depends(authorised)]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "up"}

    @app.get("/ready")
    async def ready() -> Response:
        served = catalog.all()
        datasets = {
            name: {
                "champion": s.champion.version if s.champion else None,
                "challenger": s.challenger.version if s.challenger else None,
                "mode": s.policy.mode,
                "refused": sorted(s.refused),
            }
            for name, s in served.items()
        }
        ok = bool(served) and all(s.ready for s in served.values())
        return _json({"ready": ok, "datasets": datasets}, 200 if ok else 503)

    @app.get("/metrics", dependencies=guarded)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/datasets/{dataset}/predict",
        response_model=PredictResponse,
        responses={401: {}, 404: {}, 422: {}, 503: {}},
        openapi_extra=PREDICT_DOCS,
    )
    async def predict(request: Request) -> Response:
        # Read by hand rather than through FastAPI's dependency and body machinery, which on a one-record request
        # costs more than checking and scoring the record (the OpenAPI document still describes both).
        started = time.perf_counter()
        if not bearer(request.headers.get("authorization", "")):
            return _json({"detail": UNAUTHORISED}, 401, {"WWW-Authenticate": "Bearer"})
        dataset, records = request.path_params["dataset"], _records(await request.body())
        if records is None:
            return _json({"detail": 'the body must be JSON: {"records": [{...}, ...]}'}, 422)
        served = catalog.get(dataset)
        if served is None:
            metrics.requests.labels(dataset, "404", "").inc()
            return _json({"detail": unknown_dataset(dataset, sorted(catalog.all()))}, 404)
        if served.champion is None:
            metrics.requests.labels(dataset, "503", "").inc()
            why = f"{served.cfg.model_name} has no champion yet: run `train`, then `promote`, for dataset {dataset!r}"
            return _json({"detail": why, "refused": served.refused}, 503)
        try:
            checked = served.contract.check(records)
        except RequestRejected as exc:
            metrics.requests.labels(dataset, "422", served.champion.version).inc()
            failures = [asdict(failure) for failure in exc.failures]
            return _json({"detail": f"the records break the contract of {dataset!r}", "failures": failures}, 422)
        ids = checked.ids(served.cfg.columns.id)
        canary = answer.route(served, ids)
        scores, versions = answer.score(served, checked, canary)
        request_id = uuid.uuid4().hex
        elapsed = time.perf_counter() - started
        if served.policy.log_online:
            served.log.append(Scored(request_id, checked, ids, versions, scores, 1000.0 * elapsed))
        metrics.requests.labels(dataset, "200", served.champion.version).inc()
        metrics.latency.labels(dataset).observe(elapsed)
        for version, rows in Counter(versions).items():  # each answering version's records, the canary's too
            metrics.rows.labels(dataset, version).inc(rows)
        if canary.any():
            metrics.canary.labels(dataset).inc(int(canary.sum()))
        predictions = [
            {"id": i, "score": s, "version": v} for i, s, v in zip(ids, scores.tolist(), versions, strict=True)
        ]
        return _json(
            {"request_id": request_id, "dataset": dataset, "model": served.cfg.model_name, "predictions": predictions}
        )

    return app


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


def _records(body: bytes) -> list[dict[str, Any]] | None:
    """The body's records, or None when it is not `{"records": [object, ...]}`."""
    try:
        records = orjson.loads(body).get("records")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        return None
    return records


UNAUTHORISED = "a bearer token is required (DRIFTLOOP_SERVE_TOKEN)"
PREDICT_DOCS: dict[str, Any] = {
    "parameters": [{"name": "dataset", "in": "path", "required": True, "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()}}},
}
