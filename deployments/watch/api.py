"""Talking to one Prefect API from a process that may have talked to another (the demo, benchmarks, tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.events.worker import EventsWorker
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings


class _DrainProgress(logging.Filter):
    """Drops the events worker's "Still processing items" line: it is the progress of a drain that waits for every
    queued event (ours, on leaving `prefect_api`), not a problem. Its other warnings, such as a full queue dropping
    events, still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Still processing items")


logging.getLogger(EventsWorker.__name__).addFilter(_DrainProgress())


@contextmanager
def prefect_api(url: str, auth_string: str | None = None) -> Iterator[None]:
    """Point this process's Prefect client and its events at `url` (with the server's auth string), and back at the
    previous API after.

    The events worker is one per process whatever the API URL, and binds the URL when it starts: it is drained on
    entry and on exit, so events (block loads emit some) reach the server that is current, not the first one used.
    """
    EventsWorker.drain_all()
    try:
        with temporary_settings({PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth_string}):
            yield
    finally:
        EventsWorker.drain_all()
