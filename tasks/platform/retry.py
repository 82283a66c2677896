"""Which failures are transient, and the task decorator for I/O that retries only those.

Contract failures, gate failures and programming errors are never retried: retrying them only delays the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

import botocore.exceptions as bce
import requests
from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

P = ParamSpec("P")
R = TypeVar("R")

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
    "502",
    "504",
}
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    bce.EndpointConnectionError,
    bce.ConnectionClosedError,
    bce.ReadTimeoutError,
    bce.ConnectTimeoutError,
    bce.ProxyConnectionError,
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True for network failures, throttling and 5xx answers; False for everything else."""
    if isinstance(exc, _TRANSIENT_TYPES):
        return True
    if isinstance(exc, bce.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _TRANSIENT_CODES or status >= 500
    text = str(exc)
    # MLflow and polars' object store wrap connection failures in their own exception types.
    return "Connection refused" in text or "Max retries exceeded" in text or "connection error" in text.lower()


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
