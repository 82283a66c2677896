"""The model server's HTTP API: predict under the dataset's contract, health, readiness, metrics, OpenAPI at /docs.

Requests need `Authorization: Bearer <DRIFTLOOP_SERVE_TOKEN>`; /health and /ready answer anyone (probes of a load
balancer carry no secret) and say nothing a caller could misuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from blocks.settings import Settings
from deployments.serve import follow
from deployments.serve.catalog import Catalog
from deployments.serve.handoff import Handoff
from deployments.serve.metrics import ServerMetrics
from deployments.serve.predict import CHALLENGE, UNAUTHORISED, Answer, Predictor, json_answer


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


def create_app(settings: Settings) -> ASGIApp:
    metrics = ServerMetrics()
    catalog = Catalog(metrics)
    token = settings.serve_token.get_secret_value() if settings.serve_token else ""
    if not token:
        raise ValueError("the model server needs DRIFTLOOP_SERVE_TOKEN: requests are refused without a bearer token")
    handoff = Handoff(metrics)
    predictor = Predictor(catalog, metrics, token, handoff)

    def authorised(authorization: Annotated[str, Header()] = "") -> None:
        if not predictor.bearer(authorization):
            raise HTTPException(401, UNAUTHORISED, CHALLENGE)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        handoff.start()
        try:
            async with follow.running(settings, catalog, settings.alias_poll_seconds):
                yield
        finally:  # the lander lands what it holds before the server exits
            await asyncio.to_thread(handoff.close, LANDER_STOP_SECONDS)

    app = FastAPI(title="driftloop model server", lifespan=lifespan)

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
                "online_log": s.policy.log_online,
                "refused": sorted(s.refused),
            }
            for name, s in served.items()
        }
        ok = bool(served) and all(s.ready for s in served.values())
        return _response(json_answer({"ready": ok, "datasets": datasets}, 200 if ok else 503))

    @app.get("/metrics", dependencies=[Depends(authorised)])
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        PREDICT_PATH,
        response_model=PredictResponse,
        responses={401: {}, 404: {}, 422: {}, 503: {}},
        openapi_extra=PREDICT_DOCS,
    )
    async def predict(request: Request) -> Response:
        """Documents the route; requests reach `predictor` through `Direct` without passing here."""
        authorization = request.headers.get("authorization", "")
        return _response(predictor(request.path_params["dataset"], authorization, await request.body()))

    return Direct(app, predictor)


class Direct:
    """ASGI in front of the FastAPI app: predict requests go straight to the predictor, everything else (health,
    readiness, metrics, the OpenAPI pages, lifespan) to FastAPI. On a one-record request FastAPI's routing and
    middleware cost about as much as checking and scoring the record."""

    def __init__(self, app: FastAPI, predictor: Predictor) -> None:
        self.app, self.predictor = app, predictor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        dataset = _predict_dataset(scope)
        if dataset is None:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        answered = self.predictor(dataset, authorization, body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answered.body)).encode())]
        headers += [(name.lower().encode(), value.encode()) for name, value in answered.headers.items()]
        await send({"type": "http.response.start", "status": answered.status, "headers": headers})
        await send({"type": "http.response.body", "body": answered.body})


def _predict_dataset(scope: Scope) -> str | None:
    """The dataset of a predict request, None for any other request."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)) or len(path) <= len(PREFIX) + len(SUFFIX):
        return None
    dataset = path[len(PREFIX) : -len(SUFFIX)]
    return None if "/" in dataset else dataset


def _response(answered: Answer) -> Response:
    return Response(answered.body, answered.status, answered.headers, media_type="application/json")


LANDER_STOP_SECONDS = 20.0  # within the stack's 30 s for the server to stop
PREFIX, SUFFIX = "/v1/datasets/", "/predict"
PREDICT_PATH = PREFIX + "{dataset}" + SUFFIX
PREDICT_DOCS: dict[str, Any] = {
    "parameters": [{"name": "dataset", "in": "path", "required": True, "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()}}},
}
