"""Event -> retrain flow run latency on the local stack: created (p50 target 3 s) and Running (p50 target 6 s).

Each trial emits one `driftloop.drift.detected` event for a fresh model id (so the per-model cooldown never hides a
trial) naming a dataset that has no block: the retrain run is created and starts exactly as a real one would, then
fails at once on the missing dataset, which keeps the trials cheap. Prefect's defaults give 7-12 s to Running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun

from blocks.settings import get_settings
from deployments.stack import lifecycle
from deployments.stack.environment import stack_api
from deployments.watch.runs import flow_runs, wait_until
from tasks.platform import events

PROBE_DATASET = "latency-probe"


def trial() -> tuple[float, float]:
    """Emit one drift event; return seconds until the retrain run exists and until it is Running (or past it)."""
    model = f"latency-{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC)
    start = time.monotonic()
    events.emit(events.DRIFT_DETECTED, events.model_resource(model, PROBE_DATASET), {"onset_batch_id": ""})
    created: float | None = None

    def probe_run() -> FlowRun | None:
        with get_client(sync_client=True) as client:
            runs = [r for r in flow_runs(client, "retrain", since) if r.parameters.get("dataset") == PROBE_DATASET]
        return runs[-1] if runs else None

    def running() -> bool:
        nonlocal created
        run = probe_run()
        if run is not None and created is None:
            created = time.monotonic() - start
        return run is not None and run.start_time is not None

    wait_until(running, 60, "the retrain run to start", poll=0.1)
    assert created is not None
    result = created, time.monotonic() - start
    # The retrain deployment runs one at a time: the next trial starts on an idle deployment, as a real episode would.
    wait_until(lambda: _finished(probe_run()), 60, "the retrain run to finish")
    return result


def _finished(run: FlowRun | None) -> bool:
    return run is not None and run.state is not None and run.state.is_final()


def quiet(line: str) -> None:
    """Keep the stack's start-up chatter out of the benchmark output."""
    del line


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    settings = get_settings()
    lifecycle.up(settings, quiet)
    trials = max(3, round(10 * min(scale, 1.0)))
    with stack_api(settings):
        results = [trial() for _ in range(trials)]
        time.sleep(2)
    created = statistics.median(r[0] for r in results)
    running = statistics.median(r[1] for r in results)
    notes = f"{trials} trials; worker poll {settings.worker_poll_seconds:g}s"
    return [
        {
            "benchmark": "event -> retrain run created (p50)",
            "rows": trials,
            "seconds": created,
            "baseline_seconds": None,
            "ratio": None,
            "target": "<= 3 s",
            "peak_rss_mb": None,
            "notes": notes,
        },
        {
            "benchmark": "event -> retrain run Running (p50)",
            "rows": trials,
            "seconds": running,
            "baseline_seconds": 7.0,
            "ratio": running / 7.0,
            "target": "<= 6 s (defaults: 7-12 s)",
            "peak_rss_mb": None,
            "notes": notes + "; baseline = the low end of Prefect's defaults, measured in reference/prefect3.md",
        },
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    print(json.dumps(run(parser.parse_args().scale), indent=2))
