"""Reading events back from the Prefect API: what the demo summary and the loop tests assert on."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
from prefect.events.schemas.events import ReceivedEvent

PAGE = 50  # the server caps `limit` at 50 (the client's default of 100 is a 422)


def events_since(names: list[str], since: datetime) -> list[ReceivedEvent]:
    """Every event with one of `names` that occurred at or after `since`, following the pages."""
    event_filter = EventFilter(event=EventNameFilter(name=names), occurred=EventOccurredFilter(since=since))
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=event_filter, limit=PAGE)
        found = list(page.events)
        while page.next_page:
            page = client.read_events_page(str(page.next_page))
            found += page.events
    return found


def wait_for_events(
    names: list[str],
    since: datetime,
    count: int = 1,
    timeout: float = 30.0,
    where: Callable[[ReceivedEvent], bool] = lambda _: True,
) -> list[ReceivedEvent]:
    """Poll `events_since` until `count` matching events arrived or `timeout` passed: the server persists events a
    few seconds after the flow that emitted them finished."""
    deadline = time.monotonic() + timeout
    while True:
        found = [event for event in events_since(names, since) if where(event)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(1)
