"""The reconcile flow against real S3, MLflow and Prefect: it starts exactly the missing runs, and nothing twice.

The deployments exist on the test server but no worker runs them, so a started run waits in Scheduled, just as one
would while a worker is busy: the next reconciliation must see it on its way and start nothing.
"""

from __future__ import annotations

import time
from uuid import UUID

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.events.filters import EventFilter, EventIDFilter

import flows.monitor
from flows.monitor import monitor
from flows.promote import promote
from flows.reconcile import reconcile
from flows.retrain import retrain
from flows.score import score
from flows.train import train
from tasks.model.steps.promote import apply_decision, judge
from tasks.operations.reconcile import EVENT_LAG
from tasks.platform.artifacts import artifact_key
from tasks.platform.config import DatasetConfig
from tests.batches import write_validated

pytestmark = pytest.mark.integration

ROWS = 2500


@pytest.fixture(scope="module")
def deployments(stack_blocks: object) -> list[str]:
    """`score/driftloop`, `monitor/driftloop` and `retrain/driftloop` on the test server, with no worker."""
    return [str(flow.to_deployment(name="driftloop").apply()) for flow in (score, monitor, retrain)]


def started_runs(deployment_ids: list[str], dataset: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)))
    return [run for run in runs if run.parameters.get("dataset") == dataset]


def test_reconcile_starts_exactly_the_missing_runs_then_nothing_and_nothing_when_consistent(
    dataset: DatasetConfig, deployments: list[str]
) -> None:
    batches = [write_validated(dataset, seed, ROWS) for seed in range(4)]
    assert promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name)).promoted
    # given: what lost events and failed actions leave behind
    score(dataset=dataset.name, batch_id=batches[1])  # its batch.scored event was lost: never monitored
    for batch in batches[2:]:
        score(dataset=dataset.name, batch_id=batch)
        monitor(dataset=dataset.name, batch_id=batch)
    shifted = [write_validated(dataset, seed, ROWS, shift=1.0) for seed in (10, 11)]
    for batch in shifted:
        score(dataset=dataset.name, batch_id=batch)
    summaries = [monitor(dataset=dataset.name, batch_id=batch) for batch in shifted]
    assert summaries[-1].confirmed  # type: ignore[union-attr]  # its drift event was lost: never retrained

    # when: reconcile runs (batches[0] landed before the first champion and was never scored)
    found = reconcile(dataset=dataset.name, grace_minutes=0)
    expected = {("score", batches[0]), ("monitor", batches[1]), ("retrain", "t1")}
    assert {(f.flow, f.subject) for f in found if f.start} == expected
    runs = started_runs(deployments, dataset.name)
    assert sorted(str(run.parameters.get("batch_id") or "t1") for run in runs) == sorted([batches[0], batches[1], "t1"])
    retrains = [r for r in runs if "onset_batch_id" in r.parameters]
    assert [r.parameters["onset_batch_id"] for r in retrains] == [shifted[0]]

    # then: a second reconciliation sees them on their way and starts nothing
    again = reconcile(dataset=dataset.name, grace_minutes=0)
    assert not any(f.start for f in again) and len(started_runs(deployments, dataset.name)) == 3

    # and: once the missing work is done, nothing is missing
    score(dataset=dataset.name, batch_id=batches[0])
    for batch in (batches[0], batches[1]):
        monitor(dataset=dataset.name, batch_id=batch)
    retrain(dataset=dataset.name, onset_batch_id=shifted[0], champion_version="1")
    assert reconcile(dataset=dataset.name, grace_minutes=0) == []
    artifact = Artifact.get(artifact_key("reconcile", dataset.name))
    assert artifact is not None and artifact.description == "consistent: nothing missing"


def events_with_ids(ids: list[str]) -> set[str]:
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=EventFilter(id=EventIDFilter(id=[UUID(i) for i in ids])), limit=50)
    return {str(event.id) for event in page.events}


def test_reconcile_announces_again_the_decisions_whose_events_never_left(
    dataset: DatasetConfig, deployments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in range(4):
        write_validated(dataset, seed, ROWS)
    # given: a promotion recorded by a process that died before announcing it
    decision = apply_decision.fn(dataset, judge.fn(dataset, train(dataset=dataset.name)))
    assert decision.promoted and decision.record is not None
    # and: two drift checks persisted whose events never left the monitor
    monkeypatch.setattr(flows.monitor, "announce", lambda summary: None)
    shifted = [write_validated(dataset, seed, ROWS, shift=1.0) for seed in (10, 11)]
    for batch in shifted:
        score(dataset=dataset.name, batch_id=batch)
        monitor(dataset=dataset.name, batch_id=batch)
    time.sleep(EVENT_LAG.total_seconds())  # younger decisions' events may still be on their way

    # when: reconcile runs
    found = [f for f in reconcile(dataset=dataset.name, grace_minutes=0) if f.flow == "announce"]

    # then: the promotion and both drift detections are announced again, under the ids they were first meant for
    assert sorted(f.subject for f in found) == sorted(
        [f"v{decision.record.to_version} #1", *[f"batch {b}" for b in shifted]]
    )
    sent = [f.parameters["event_id"] for f in found]
    deadline = time.monotonic() + 30
    while events_with_ids(sent) != set(sent) and time.monotonic() < deadline:
        time.sleep(1)
    assert events_with_ids(sent) == set(sent)
    # and: the next reconciliation finds them and announces nothing
    assert not [f for f in reconcile(dataset=dataset.name, grace_minutes=0) if f.flow == "announce"]
