"""The monitor flow against real S3, MLflow and Prefect, with a champion trained and promoted by the real flows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import ViewType
from prefect.artifacts import Artifact
from prefect.events.schemas.events import ReceivedEvent

from deployments.watch.events import wait_for_events
from flows.monitor import monitor
from flows.promote import promote
from flows.score import score
from flows.train import train
from tasks.data import lake
from tasks.monitoring.confirmation import confirmed_onset, parse_marks
from tasks.monitoring.steps.check import MonitorSummary
from tasks.platform.artifacts import artifact_key
from tasks.platform.config import DatasetConfig
from tasks.platform.events import DRIFT_CHECKED, DRIFT_DETECTED, deterministic_id
from tests.batches import write_validated

pytestmark = pytest.mark.integration

ROWS = 2500
SINCE = datetime.now(UTC)  # events of this test module's models only come later
START = datetime(2024, 1, 1, tzinfo=UTC)


def land(cfg: DatasetConfig, seed: int, shift: float = 0.0) -> str:
    """Write one validated batch straight into the lake (ingest has its own tests) and return its id."""
    return write_validated(cfg, seed, ROWS, shift=shift)


def drift_events(model: str, names: list[str], expected: int) -> list[ReceivedEvent]:
    """This model's events with these names: emission is asynchronous, so wait for `expected` of them."""
    resource = f"driftloop.model.{model}"
    return wait_for_events(names, SINCE, expected, timeout=20, where=lambda e: e.resource.id == resource)


def test_without_a_champion_monitoring_completes_saying_there_is_nothing_to_compare_with(
    dataset: DatasetConfig,
) -> None:
    land(dataset, seed=1)
    state = monitor(dataset=dataset.name, return_state=True)
    assert state.is_completed() and state.message is not None
    assert "no champion yet, so no reference to compare with" in state.message
    assert dataset.store.list_keys(f"reports/{dataset.name}/") == []


def test_quiet_then_drift_episode_with_a_stable_onset(
    dataset: DatasetConfig, drift_policy: Callable[..., DatasetConfig]
) -> None:
    drift_policy(report_batches="drifted")
    for seed in range(1, 5):
        land(dataset, seed)
    decision = promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name))
    assert decision.promoted, decision.reasons
    version = decision.challenger_version

    quiet_batch = land(dataset, seed=5)
    score(dataset=dataset.name, batch_id=quiet_batch)
    quiet = monitor(dataset=dataset.name)  # empty batch id: the newest batch
    assert quiet.batch_id == quiet_batch and quiet.champion_version == version
    assert not quiet.drifted and quiet.reasons == [] and quiet.onset_batch_id is None
    assert quiet.prediction is not None and quiet.performance is not None
    assert quiet.performance.current_auc is not None and not quiet.performance.drifted
    assert quiet.report_uri is None and quiet.report_agreement is None  # drifted batches only

    onset_batch, later_batch = land(dataset, seed=6, shift=1.0), land(dataset, seed=7, shift=1.0)
    for batch in (onset_batch, later_batch):
        score(dataset=dataset.name, batch_id=batch)
    # Checked out of ingest order (automations run concurrently): the onset is still the earlier-ingested batch.
    later_state = monitor(dataset=dataset.name, batch_id=later_batch, return_state=True)
    first_state = monitor(dataset=dataset.name, batch_id=onset_batch, return_state=True)
    later, first = later_state.result(), first_state.result()
    assert (later_state.name, first_state.name) == ("Drift unconfirmed", "Drift confirmed")
    assert later_state.is_completed() and f"batch {later_batch}" in (later_state.message or "")
    assert first.drifted and later.drifted
    assert {"credit_score", "interest_rate", "revolving_utilization"} <= set(first.drifted_columns)
    assert later.onset_batch_id == later_batch and first.onset_batch_id == onset_batch
    assert first.tenure == later.tenure == 1  # history record #1 made the champion
    marks = parse_marks(dataset.store.list_keys(lake.checks_prefix(dataset.name, dataset.model_name, 1)))
    assert [m.mark for m in marks] == ["quiet", "drifted", "drifted"]
    assert confirmed_onset(marks, confirm_batches=2) == onset_batch
    assert first.confirmed and first.episode_batches == [onset_batch, later_batch]
    assert not later.confirmed  # when it was checked, it was one drifted batch: not a confirmed episode yet

    # The summary in S3 is the record; a re-run of the same check returns it unchanged.
    persisted = MonitorSummary.model_validate(dataset.store.get_json(first.summary_uri.split("/", 3)[3]))
    assert persisted == first == monitor(dataset=dataset.name, batch_id=onset_batch)
    assert first.summary_uri.endswith(f"reports/{dataset.name}/drift/{onset_batch}-v{version}/summary.json")
    assert dataset.store.get(first.report_uri.split("/", 3)[3]).strip().startswith(b"<!DOCTYPE html>")
    assert (
        first.report_agreement is not None and first.report_agreement >= 0.8
    )  # Evidently on the samples mostly agrees with the full-batch engine

    client = MlflowClient(dataset.mlflow.tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(dataset.experiment).experiment_id],
        filter_string=f"tags.`driftloop.batch_id` = '{onset_batch}'",
    )
    assert runs and runs[0].data.tags["driftloop.champion_version"] == version
    assert runs[0].data.metrics["drifted"] == 1.0

    artifact = Artifact.get(artifact_key("drift", dataset.name))
    assert artifact is not None and artifact.description is not None
    # the report opens from the artifact: a link into the check's MLflow run, which holds a copy of it
    assert f"/runs/{runs[0].info.run_id}/artifactPath/drift/report.html)" in artifact.description
    logged = {entry.path for entry in client.list_artifacts(runs[0].info.run_id, "drift")}
    assert logged == {"drift/report.html", "drift/summary.json"}
    quiet_runs = client.search_runs(
        [client.get_experiment_by_name(dataset.experiment).experiment_id],
        filter_string=f"tags.`driftloop.batch_id` = '{quiet_batch}'",
    )
    assert {entry.path for entry in client.list_artifacts(quiet_runs[0].info.run_id, "drift")} == {"drift/summary.json"}
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert {row["column"] for row in table} >= {"credit_score", "region", "prediction"}

    detected = drift_events(dataset.model_name, [DRIFT_DETECTED], expected=2)
    assert {e.payload["batch_id"] for e in detected} == {onset_batch, later_batch}
    assert {e.payload["batch_id"]: e.payload["onset_batch_id"] for e in detected} == {
        onset_batch: onset_batch,
        later_batch: later_batch,
    }
    onset_event = next(e for e in detected if e.payload["batch_id"] == onset_batch)
    assert onset_event.id == deterministic_id("drift", dataset.model_name, "t1", version, onset_batch, "confirmed")
    assert onset_event.payload["confirmed"] and onset_event.resource["driftloop.confirmed"] == "true"
    assert onset_event.resource["driftloop.tenure"] == "1"  # the retrain cooldown is keyed by it
    # Every check, drifted or not, once: the re-run's event has the same id, and the server keeps the first.
    checked = drift_events(dataset.model_name, [DRIFT_CHECKED], expected=3)
    assert sorted(str(e.id) for e in checked) == sorted(
        str(deterministic_id("checked", dataset.model_name, "t1", version, batch))
        for batch in (quiet_batch, onset_batch, later_batch)
    )


def test_a_retried_track_summary_leaves_one_finished_run_for_the_check(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch, drift_policy: Callable[..., DatasetConfig]
) -> None:
    drift_policy(report_batches="every")  # the default: a quiet batch gets its report too
    for seed in range(1, 5):
        land(dataset, seed)
    assert promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name)).promoted
    batch = land(dataset, seed=5)
    score(dataset=dataset.name, batch_id=batch)
    real_log_artifacts = MlflowClient.log_artifacts
    faults: list[str] = []

    def fail_once_after_the_run_was_made(self: MlflowClient, run_id: str, *args: Any, **kwargs: Any) -> Any:
        if not faults:
            faults.append(run_id)
            raise requests.ConnectionError("Connection reset by peer")
        return real_log_artifacts(self, run_id, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_artifacts", fail_once_after_the_run_was_made)
    summary = monitor(dataset=dataset.name, batch_id=batch)

    client = MlflowClient(dataset.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(dataset.experiment)
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`driftloop.batch_id` = '{batch}'",
        run_view_type=ViewType.ALL,
    )
    assert faults and [run.info.run_id for run in runs] == faults  # the retry logged into the run it had made
    assert runs[0].info.status == "FINISHED"
    assert runs[0].data.tags["driftloop.monitor_key"] == summary.summary_uri
    logged = {artifact.path for artifact in client.list_artifacts(faults[0], "drift")}
    assert logged == {"drift/summary.json", "drift/report.html"}
