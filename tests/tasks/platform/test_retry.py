"""Which failures are transient: by type, by the chain an exception was raised from, by HTTP status, never by text.

The MLflow and polars cases are raised by the real clients against a local endpoint that answers what the case needs.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NoReturn

import polars as pl
import pytest
import requests
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException, get_error_code

from tasks.platform.retry import is_transient


def client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (503, "503", True),  # a HEAD answer has no body: the code is the status
        (429, "TooManyRequests", True),
        (400, "RequestTimeout", True),
        (400, "ThrottlingException", True),
        (409, "ConditionalRequestConflict", True),
        (403, "AccessDenied", False),
        (404, "NoSuchKey", False),
        (412, "PreconditionFailed", False),
        (400, "InvalidArgument", False),
        (501, "NotImplemented", False),
    ],
)
def test_s3_client_errors_go_by_status_and_code(status: int, code: str, transient: bool) -> None:
    assert is_transient(client_error(status, code)) is transient


def raised(make: Callable[[], object]) -> BaseException:
    """The exception `make` raises."""
    try:
        make()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def wrap_implicitly(inner: BaseException, outer: BaseException) -> Callable[[], NoReturn]:
    """Raise `outer` while handling `inner`, as MLflow wraps a failed request: `inner` is its `__context__`."""

    def make() -> NoReturn:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit chain (__context__) is what is tested

    return make


def wrap(inner: BaseException, outer: BaseException, *, suppress: bool = False) -> Callable[[], NoReturn]:
    """Raise `outer` from `inner` (its `__cause__`), or from None, which hides `inner`."""

    def make() -> NoReturn:
        try:
            raise inner
        except BaseException as exc:
            raise outer from (None if suppress else exc)

    return make


def test_connection_errors_count_through_the_chain_they_were_raised_in() -> None:
    lost = ConnectionClosedError(endpoint_url="http://s3")
    assert is_transient(raised(wrap(lost, RuntimeError("step failed"))))
    assert is_transient(raised(wrap_implicitly(lost, RuntimeError("step failed"))))
    assert is_transient(raised(wrap(RuntimeError("middle"), RuntimeError("outer")))) is False
    nested = raised(wrap(EndpointConnectionError(endpoint_url="http://s3"), RuntimeError("middle")))
    assert is_transient(raised(wrap(nested, RuntimeError("outer"))))


def test_a_suppressed_context_or_an_outer_verdict_is_not_overruled_by_the_chain() -> None:
    lost = requests.ConnectionError("reset")
    assert not is_transient(raised(wrap(lost, RuntimeError("config is wrong"), suppress=True)))
    assert not is_transient(raised(wrap_implicitly(lost, client_error(403, "AccessDenied"))))


def test_text_that_looks_like_a_network_failure_is_not_one() -> None:
    assert not is_transient(ValueError("Connection refused"))
    assert not is_transient(RuntimeError("Max retries exceeded with url: /x (connection error)"))
    assert not is_transient(MlflowException("API request to http://x failed with exception Connection refused"))


@pytest.mark.parametrize(
    ("answer", "transient"),
    [
        ({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, True),
        ({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}, True),
        ({"error_code": "INTERNAL_ERROR", "message": "the server failed"}, True),
        ({"error_code": "503", "message": "a proxy's status as the code"}, True),
        ({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such run"}, False),
        ({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad filter"}, False),
        ({"error_code": "PERMISSION_DENIED", "message": "no"}, False),
    ],
)
def test_mlflow_server_answers_go_by_their_status(answer: dict[str, str], transient: bool) -> None:
    assert is_transient(RestException(answer)) is transient


def test_mlflow_errors_raised_without_a_server_answer_are_not_transient() -> None:
    assert not is_transient(MlflowException("the model flavor is missing"))  # INTERNAL_ERROR by default
    assert not is_transient(MlflowException("bad body", error_code=get_error_code(401)))
    assert is_transient(MlflowException("busy", error_code=get_error_code(503)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def answering(status: int, body: str, content_type: str = "application/json") -> Iterator[str]:
    """A local HTTP endpoint that answers every request with `status` and `body`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mlflow_without_own_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's client gives up at once instead of after minutes of its own backoff; what it raises is the same."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def mlflow_failure(uri: str) -> BaseException:
    return raised(lambda: MlflowClient(uri).create_run("0"))


@pytest.mark.usefixtures("mlflow_without_own_retries")
def test_an_unreachable_mlflow_server_is_transient() -> None:
    failure = mlflow_failure(f"http://127.0.0.1:{free_port()}")
    assert type(failure) is MlflowException  # MLflow wraps the refused connection ...
    assert is_transient(failure)  # ... and the chain tells


@pytest.mark.usefixtures("mlflow_without_own_retries")
@pytest.mark.parametrize(
    ("status", "body", "content_type", "transient"),
    [
        (503, "busy", "text/plain", True),
        (500, json.dumps({"error_code": "INTERNAL_ERROR", "message": "db"}), "application/json", True),
        (429, "slow down", "text/plain", True),
        (404, json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}), "application/json", False),
        (401, "You are not authenticated", "text/plain", False),
        (403, json.dumps({"error_code": "PERMISSION_DENIED", "message": "no"}), "application/json", False),
    ],
)
def test_mlflow_server_answers_as_the_client_raises_them(
    status: int, body: str, content_type: str, transient: bool
) -> None:
    with answering(status, body, content_type) as uri:
        failure = mlflow_failure(uri)
    assert isinstance(failure, MlflowException)
    assert is_transient(failure) is transient


def polars_failure(endpoint: str) -> BaseException:
    options = {
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
        "aws_region": "us-east-1",
        "aws_access_key_id": "key",
        "aws_secret_access_key": "secret",
        "max_retries": 0,  # the object store's own retries change the message's timing, not its kind
    }
    return raised(lambda: pl.read_parquet("s3://bucket/batch.parquet", storage_options=options))


@pytest.mark.parametrize(
    ("status", "transient"), [(503, True), (500, True), (429, True), (403, False), (404, False), (400, False)]
)
def test_polars_object_store_answers_go_by_their_status(status: int, transient: bool) -> None:
    with answering(status, "<Error><Code>Any</Code></Error>", "application/xml") as endpoint:
        assert is_transient(polars_failure(endpoint)) is transient


def test_polars_cannot_connect_is_transient() -> None:
    failure = polars_failure(f"http://127.0.0.1:{free_port()}")
    assert isinstance(failure, ConnectionError) and is_transient(failure)


def test_an_oserror_of_another_origin_naming_a_status_is_not_transient() -> None:
    assert not is_transient(OSError("upload failed: Server returned non-2xx status code: 503"))
