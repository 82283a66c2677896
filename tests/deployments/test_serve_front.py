"""The ASGI front of the model server: predict requests reach the predictor straight from the scope, everything else
(and the OpenAPI document of predict) is FastAPI's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI

from deployments.serve.app import PREDICT_PATH, Direct, _predict_dataset
from deployments.serve.predict import Answer, json_answer


class Echo:
    """Stands in for the predictor: answers what reached it."""

    def __call__(self, dataset: str, authorization: str, body: bytes) -> Answer:
        return json_answer(
            {"dataset": dataset, "authorization": authorization, "body": body.decode()}, 202, {"X-A": "b"}
        )


@pytest.mark.parametrize(
    ("method", "path", "dataset"),
    [
        ("POST", "/v1/datasets/credit/predict", "credit"),
        ("GET", "/v1/datasets/credit/predict", None),
        ("POST", "/v1/datasets//predict", None),
        ("POST", "/v1/datasets/a/b/predict", None),
        ("POST", "/v1/datasets/credit/predictions", None),
        ("POST", "/health", None),
    ],
)
def test_only_a_predict_post_is_taken_from_fastapi(method: str, path: str, dataset: str | None) -> None:
    assert _predict_dataset({"type": "http", "method": method, "path": path}) == dataset


def call(app: Direct, method: str, path: str, body: list[bytes], headers: dict[str, str]) -> dict[str, Any]:
    """One request through the ASGI callable, its body in the chunks given; the answer's status, headers and body."""
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(body) - 1} for i, c in enumerate(body)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start, *bodies = sent
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in bodies),
    }


def test_the_predictor_gets_dataset_token_and_body_and_its_answer_goes_back_whole() -> None:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "up"}

    front = Direct(app, Echo())  # type: ignore[arg-type]
    answered = call(front, "POST", "/v1/datasets/credit/predict", [b'{"records"', b": []}"], {"Authorization": "x y"})
    assert answered["status"] == 202 and answered["headers"]["x-a"] == "b"
    assert answered["headers"]["content-type"] == "application/json"
    assert json.loads(answered["body"]) == {"dataset": "credit", "authorization": "x y", "body": '{"records": []}'}
    assert json.loads(call(front, "GET", "/health", [b""], {})["body"]) == {"status": "up"}
    assert call(front, "POST", "/v1/datasets/a/b/predict", [b""], {})["status"] == 404  # FastAPI's answer


def test_the_openapi_document_describes_predict() -> None:
    from blocks.settings import Settings
    from deployments.serve.app import create_app

    front = create_app(Settings(serve_token="t"))  # type: ignore[call-arg]
    assert isinstance(front, Direct)
    document = front.app.openapi()
    operation = document["paths"][PREDICT_PATH]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["records"]
    assert {"200", "401", "404", "422", "503"} <= set(operation["responses"])
