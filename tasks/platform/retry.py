"""Which failures are transient, and the task decorator for I/O that retries only those.

Contract failures, gate failures and programming errors are never retried: retrying them only delays the message.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar, overload

import botocore.exceptions as bce
import requests
from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

P = ParamSpec("P")
R = TypeVar("R")

# Error codes S3 answers with a 4xx status although retrying is the documented remedy; 429 and 5xx go by status.
_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "ConditionalRequestConflict",  # 409: a concurrent conditional write of the same key; the retry resolves it
}
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    bce.EndpointConnectionError,
    bce.ConnectionClosedError,
    bce.ReadTimeoutError,
    bce.ConnectTimeoutError,
    bce.ProxyConnectionError,
    bce.ResponseStreamingError,
    requests.ConnectionError,
    requests.Timeout,
    # Raised once a client's own retries on 408, 429 or 5xx answers ran out: MLflow's client raises it (wrapped in an
    # MlflowException) for every such answer, and its status list holds nothing but those.
    requests.exceptions.RetryError,
    ConnectionError,  # also what polars raises when its object store cannot connect
    TimeoutError,  # ... or times out
)
# polars' object store raises a bare OSError once its own retries on a 429 or 5xx answer ran out, with the status
# only in the message (connection failures and timeouts, 403 and 404 come as OSError subclasses). Text is the only
# place to learn the status from, so this rule reads it, and only from an OSError that says it is one of these.
_OBJECT_STORE_STATUS = re.compile(r"^object-store error: .*non-2xx status code: (\d{3})\b", re.DOTALL)


def is_transient(exc: BaseException) -> bool:
    """True for network failures, throttling and 5xx answers; False for everything else.

    The exception and what it was raised from (or while handling) are looked at in turn; the first one that tells
    decides, so a wrapper with a verdict of its own (an MLflow 404 raised while handling anything) is not overruled.
    """
    for link in _chain(exc):
        verdict = _verdict(link)
        if verdict is not None:
            return verdict
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its `__cause__`, or else its `__context__` unless suppressed, as tracebacks show them."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ if link.__cause__ is not None or link.__suppress_context__ else link.__context__


def _verdict(exc: BaseException) -> bool | None:
    """Whether this one exception is transient, or None when it does not tell (the chain decides)."""
    if isinstance(exc, _TRANSIENT_TYPES):
        return True
    if isinstance(exc, bce.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code in _TRANSIENT_CODES or _transient_status(
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        )
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _transient_status(exc.response.status_code)
    if (status := _mlflow_status(exc)) is not None:
        return _transient_status(status)
    if type(exc) is OSError and (found := _OBJECT_STORE_STATUS.match(str(exc))):
        return _transient_status(int(found.group(1)))
    return None


def _transient_status(status: int | None) -> bool:
    # 501 says the server does not implement the call at all: no retry changes that.
    return status is not None and (status == 429 or (status >= 500 and status != 501))


def _mlflow_status(exc: BaseException) -> int | None:
    """The HTTP status an MLflow exception stands for, when it stands for one.

    A RestException carries the server's answer. A plain MlflowException's 500 says nothing by itself: it is the
    status of the codes MLflow raises without any server (INTERNAL_ERROR is the default) and of the wrapper around a
    failed request, whose cause tells what happened; a 5xx answer from the server arrives as such a wrapper around
    `requests.exceptions.RetryError`, once MLflow's own retries ran out.
    """
    # mlflow is not imported here: it adds over a second to every flow that never talks to MLflow, and an
    # MlflowException can only exist in a process that has loaded mlflow.exceptions.
    module = sys.modules.get("mlflow.exceptions")
    if module is None or not isinstance(exc, module.MlflowException):
        return None
    status = int(exc.get_http_status_code())
    return status if isinstance(exc, module.RestException) or status != 500 else None


def retry_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:  # noqa: ARG001
    """`retry_condition_fn` for Prefect tasks: retry only when the failure was transient."""
    try:
        state.result()
    except BaseException as exc:
        return is_transient(exc)
    return False


@overload
def io_task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def io_task(*, retries: int = 5, **kwargs: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def io_task(
    fn: Callable[P, R] | None = None, /, *, retries: int = 5, **kwargs: Any
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """`@task` for I/O: exponential backoff with jitter on transient errors only, and no input hashing.

    Typed as `Task[P, R]`, so mypy checks every call of it in a flow against the wrapped function's signature.
    """
    options: dict[str, Any] = {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=1),
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_transient,
        "cache_policy": NO_CACHE,
        **kwargs,
    }
    return _decorate(fn, options)


@overload
def step_task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def step_task(**kwargs: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def step_task(
    fn: Callable[P, R] | None = None, /, **kwargs: Any
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """`@task` for a unit of work that is not retried (its failures are verdicts), without input hashing."""
    return _decorate(fn, {"cache_policy": NO_CACHE, **kwargs})


def _decorate(
    fn: Callable[P, R] | None, options: dict[str, Any]
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    def wrap(function: Callable[P, R]) -> Task[P, R]:
        return Task(fn=function, **options)

    return wrap if fn is None else wrap(fn)
