"""Landed objects whose ingest failed unexpectedly, pure: how often, why, and when the sweep tries again.

A contract violation or an unreadable object is a verdict (quarantine), not a failure. A failure is anything else
that outlasted the task's own retries: a polars panic on one object, an S3 error that would not clear, a bug. It is
kept beside the ledger (which holds only final outcomes), the object stays pending, and the scheduled sweep tries it
again after a backoff that doubles; after `MAX_ATTEMPTS` failures the object is quarantined with the last error, so
one poison object never blocks the objects and datasets after it, and never retries forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

MAX_ATTEMPTS = 3
FIRST_BACKOFF = timedelta(minutes=5)


class IngestFailure(BaseModel):
    """The failures of one landed object so far."""

    key: str
    attempts: int
    error: str
    at: datetime
    next_attempt_at: datetime
    last_attempt: str  # which ingest attempt failed last: its own retried write counts once


def next_failure(previous: IngestFailure | None, key: str, error: str, now: datetime, attempt: str) -> IngestFailure:
    """The record after one more failure: counted, with the next attempt after a backoff that doubles each time.
    The same `attempt` recording again (a retried write) changes nothing."""
    if previous is not None and previous.last_attempt == attempt:
        return previous
    attempts = (previous.attempts if previous else 0) + 1
    backoff = FIRST_BACKOFF * 2 ** (attempts - 1)
    return IngestFailure(
        key=key, attempts=attempts, error=error, at=now, next_attempt_at=now + backoff, last_attempt=attempt
    )


def given_up(failure: IngestFailure) -> bool:
    return failure.attempts >= MAX_ATTEMPTS


def due(failure: IngestFailure | None, now: datetime) -> bool:
    """Whether the sweep should try the object now: never failed, or its backoff is over."""
    return failure is None or now >= failure.next_attempt_at


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
