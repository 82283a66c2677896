"""Unexpected ingest failures (pure): counted once per attempt, backed off, and given up on after the last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.data.failures import MAX_ATTEMPTS, due, given_up, next_failure

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_each_failure_doubles_the_backoff_until_the_object_is_given_up() -> None:
    first = next_failure(None, "landing/x.csv", "PanicException: boom", NOW, "run-1")
    assert (first.attempts, first.next_attempt_at - NOW) == (1, timedelta(minutes=5))
    assert not due(first, NOW + timedelta(minutes=4)) and due(first, NOW + timedelta(minutes=5))
    second = next_failure(first, "landing/x.csv", "PanicException: boom", NOW, "run-2")
    assert (second.attempts, second.next_attempt_at - NOW) == (2, timedelta(minutes=10))
    third = next_failure(second, "landing/x.csv", "OSError: gone", NOW, "run-3")
    assert third.attempts == MAX_ATTEMPTS and given_up(third) and not given_up(second)
    assert third.error == "OSError: gone"


def test_a_retried_write_of_the_same_attempt_counts_once() -> None:
    first = next_failure(None, "landing/x.csv", "boom", NOW, "run-1")
    assert next_failure(first, "landing/x.csv", "boom", NOW + timedelta(seconds=3), "run-1") == first


def test_an_object_that_never_failed_is_due() -> None:
    assert due(None, NOW)
