"""Watching flow runs through the Prefect API: used by the demo and by the end-to-end tests of the loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort


class RunsTimeout(TimeoutError):
    """The expected flow runs did not appear or finish in time."""


def flow_runs(client: SyncPrefectClient, flow_name: str, since: datetime) -> list[FlowRun]:
    """Runs of `flow_name` that an event, a person or a parent flow started at or after `since`, oldest first.

    Runs the scheduler made (the ingest safety net) are left out: they wait in Scheduled for their time to come.
    """
    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
        flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=200,
    )
    return [run for run in runs if not run.auto_scheduled]


def is_final(run: FlowRun) -> bool:
    return run.state is not None and run.state.is_final()


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 1.0) -> None:
    """Poll `check` until it is true; raise RunsTimeout saying `what` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise RunsTimeout(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_for_runs(
    flow_name: str, count: int, since: datetime, timeout: float = 240.0, parameters: dict[str, str] | None = None
) -> list[FlowRun]:
    """Wait until at least `count` runs of `flow_name` (matching `parameters`) exist since `since` and all are final."""
    found: list[FlowRun] = []

    def settled() -> bool:
        nonlocal found
        with get_client(sync_client=True) as client:
            found = [r for r in flow_runs(client, flow_name, since) if _matches(r, parameters or {})]
        return len(found) >= count and all(is_final(r) for r in found)

    wait_until(settled, timeout, f"{count} finished '{flow_name}' runs")
    return found


def _matches(run: FlowRun, parameters: dict[str, str]) -> bool:
    return all(run.parameters.get(k) == v for k, v in parameters.items())
