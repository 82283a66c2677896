"""The monitor flow against real S3, MLflow and Prefect, with a champion trained and promoted by the real flows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from mlflow import MlflowClient
from prefect.artifacts import Artifact
from prefect.events.schemas.events import ReceivedEvent

from deployments.watch.events import wait_for_events
from flows.monitor import monitor
from flows.promote import promote
from flows.score import score
from flows.train import train
from tasks.monitoring.steps.check import MonitorSummary, episode_key
from tasks.monitoring.steps.publish import artifact_key
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import NoChampion
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


def test_without_a_champion_monitoring_fails_with_no_champion(dataset: DatasetConfig) -> None:
    land(dataset, seed=1)
    with pytest.raises(NoChampion, match=dataset.model_name):
        monitor(dataset=dataset.name)


def test_quiet_then_drift_episode_with_a_stable_onset(dataset: DatasetConfig) -> None:
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

    onset_batch, later_batch = land(dataset, seed=6, shift=1.0), land(dataset, seed=7, shift=1.0)
    for batch in (onset_batch, later_batch):
        score(dataset=dataset.name, batch_id=batch)
    first = monitor(dataset=dataset.name, batch_id=onset_batch)
    later = monitor(dataset=dataset.name, batch_id=later_batch)
    assert first.drifted and later.drifted
    assert {"credit_score", "interest_rate", "revolving_utilization"} <= set(first.drifted_columns)
    assert first.onset_batch_id == later.onset_batch_id == onset_batch
    assert first.tenure == later.tenure == 1  # history record #1 made the champion
    assert dataset.store.get_json(episode_key(dataset.name, dataset.model_name, 1))["onset_batch_id"] == onset_batch

    # The summary in S3 is the record; a re-run of the same check returns it unchanged.
    persisted = MonitorSummary.model_validate(dataset.store.get_json(first.summary_uri.split("/", 3)[3]))
    assert persisted == first == monitor(dataset=dataset.name, batch_id=onset_batch)
    assert first.summary_uri.endswith(f"reports/{dataset.name}/drift/{onset_batch}-v{version}/summary.json")
    assert dataset.store.get(first.report_uri.split("/", 3)[3]).strip().startswith(b"<!DOCTYPE html>")
    assert first.report_agreement >= 0.8  # Evidently on the samples mostly agrees with the full-batch engine

    runs = MlflowClient(dataset.mlflow.tracking_uri).search_runs(
        [MlflowClient(dataset.mlflow.tracking_uri).get_experiment_by_name(dataset.experiment).experiment_id],
        filter_string=f"tags.`driftloop.batch_id` = '{onset_batch}'",
    )
    assert runs and runs[0].data.tags["driftloop.champion_version"] == version
    assert runs[0].data.metrics["drifted"] == 1.0

    artifact = Artifact.get(artifact_key(dataset.name))
    assert artifact is not None and artifact.description is not None and "report.html" in artifact.description
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert {row["column"] for row in table} >= {"credit_score", "region", "prediction"}

    detected = drift_events(dataset.model_name, [DRIFT_DETECTED], expected=2)
    assert {e.payload["batch_id"] for e in detected} == {onset_batch, later_batch}
    assert all(e.payload["onset_batch_id"] == onset_batch for e in detected)
    onset_event = next(e for e in detected if e.payload["batch_id"] == onset_batch)
    assert onset_event.id == deterministic_id("drift", dataset.model_name, "t1", version, onset_batch)
    assert onset_event.resource["driftloop.tenure"] == "1"  # the retrain cooldown is keyed by it
    checked = drift_events(dataset.model_name, [DRIFT_CHECKED], expected=4)
    assert len(checked) >= 4  # every run, drifted or not
