"""No generated secret anywhere it should not be: status, logs, artifacts, events and MLflow runs of a live loop.

Runs on the session's stack after the loop tests (same xdist group), on a dataset whose champion was trained,
promoted, and whose landed batch was ingested, scored and monitored by the automations.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client

from blocks.settings import Settings
from deployments.stack.state import load_or_create_credentials
from deployments.watch.events import events_since
from tasks.platform import events
from tasks.platform.config import DatasetConfig
from tests.durable_fixture import DURABLE_DATASET
from tests.stack_fixture import run_cli

# Long rather than faulty: building the live loop it scans takes minutes of the session's stack, so it runs in
# `make chaos`.
pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def test_no_generated_secret_appears_in_logs_artifacts_events_tags_or_status(
    api: Settings, champion: DatasetConfig
) -> None:
    secrets = load_or_create_credentials(api.home).secrets()
    status = run_cli(api, "status")
    places: dict[str, str] = {"driftloop status": status.stdout + status.stderr}
    for log in (api.home / "logs").rglob("*"):
        if log.is_file():
            places[str(log)] = log.read_text(errors="replace")
    with get_client(sync_client=True) as client:
        places["artifacts"] = " ".join(str(a.model_dump()) for a in client.read_artifacts())
    driftloop_events = events_since(list(events.ALL_EVENTS), datetime(2000, 1, 1, tzinfo=UTC))
    places["events"] = " ".join(str(e.model_dump()) for e in driftloop_events)
    mlflow = MlflowClient(api.resolved_mlflow_uri)
    experiment = mlflow.get_experiment_by_name(f"driftloop-{DURABLE_DATASET}")
    assert experiment is not None
    runs = mlflow.search_runs([experiment.experiment_id], max_results=500)
    places["mlflow runs"] = " ".join(str(run.data.params) + str(run.data.tags) for run in runs)
    assert runs, f"no MLflow runs in {experiment}"
    assert places["artifacts"] and places["events"]
    leaks = [(place, i) for place, text in places.items() for i, secret in enumerate(secrets) if secret in text]
    assert leaks == []
