"""The whole loop on a real stack: Prefect server + worker, S3 endpoint, MLflow; triggers from prefect.yaml.

Drop files in landing/ and everything after happens by automation: ingest, score, monitor, drift, retrain, promotion.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.events.schemas.events import ReceivedEvent

from blocks import names
from blocks.register import demo_dataset
from blocks.settings import Settings
from deployments.watch.events import events_since, wait_for_events
from deployments.watch.runs import wait_for_runs
from tasks.model.registry import champion_version
from tasks.platform import events
from tasks.platform.config import load_dataset
from tests.durable_fixture import run_and_wait

pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("stack")]

ROWS = 5000


def land(scenario: str, batches: int, seed: int, first_day: int, dataset: str = names.DEMO_DATASET) -> datetime:
    since = datetime.now(UTC)
    parameters = {
        "dataset": dataset,
        "scenario": scenario,
        "batches": batches,
        "rows": ROWS,
        "seed": seed,
        "first_day": first_day,
    }
    run = run_deployment("simulate/driftloop", parameters=parameters, timeout=300)
    assert run.state is not None and run.state.is_completed(), run.state
    return since


def confirmed_drift(seed: int, first_day: int, dataset: str = names.DEMO_DATASET) -> tuple[ReceivedEvent, FlowRun]:
    """Land two shifted batches one after the other: the first drifts unconfirmed and retrains nothing, the second
    confirms the episode and the automation retrains (exactly once); the confirmed drift event and that retrain."""
    mine = {"where": lambda event: event.resource.get("driftloop.dataset") == dataset}
    since = land("covariate_shift_sudden", 1, seed=seed, first_day=first_day, dataset=dataset)
    wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": dataset})
    (unconfirmed,) = wait_for_events([events.DRIFT_DETECTED], since, **mine)
    assert not unconfirmed.payload["confirmed"] and "credit_score" in unconfirmed.payload["drifted_columns"]
    persists = land("covariate_shift_sudden", 1, seed=seed + 1, first_day=first_day + 1, dataset=dataset)
    (confirmed,) = wait_for_events([events.DRIFT_DETECTED], persists, timeout=300, **mine)
    assert confirmed.payload["confirmed"] and confirmed.payload["onset_batch_id"] == unconfirmed.payload["batch_id"]
    # none from the unconfirmed event
    (retrained,) = wait_for_runs("retrain", 1, since, timeout=420, parameters={"dataset": dataset})
    assert retrained.state is not None and retrained.state.is_completed(), retrained.state
    return confirmed, retrained


# Nine batches through the automations: eight to twelve minutes on two cores, most of `make test`'s budget, so the
# story runs in `make chaos` (and `make demo` tells it end to end).
@pytest.mark.chaos
@pytest.mark.timeout(900)
def test_loop_retrains_once_after_a_sudden_shift_that_persists_then_settles(api: Settings) -> None:
    started = datetime.now(UTC)
    spec = demo_dataset()
    spec.holdout_rows, spec.min_onset_rows, spec.train_batches = 1500, 3000, 6
    spec.save(names.DEMO_DATASET, overwrite=True)
    cfg = load_dataset(names.DEMO_DATASET)

    # given: a champion trained on baseline data that the automation ingested
    since = land("baseline", 5, seed=11, first_day=0)
    wait_for_runs("ingest", 5, since, timeout=300)
    run_and_wait("train", dataset=cfg.name)
    run_and_wait("promote", dataset=cfg.name)
    first = champion_version(cfg)
    assert first is not None

    # when: a baseline batch arrives, nothing drifts
    since = land("baseline", 1, seed=12, first_day=6)
    wait_for_runs("monitor", 1, since, timeout=300)
    assert wait_for_events([events.DRIFT_CHECKED], since)  # persisted, so a drift event would be too
    assert not events_since([events.DRIFT_DETECTED], since)

    # when: a recession arrives, its first batch drifts, unconfirmed: announced, and nothing retrains yet
    confirmed_drift(seed=13, first_day=7)
    second = champion_version(cfg)
    assert second is not None and second != first

    # then: the next shifted batch is monitored against the new champion's reference and stays quiet
    since = land("covariate_shift_sudden", 1, seed=15, first_day=9)
    monitors = wait_for_runs("monitor", 1, since, timeout=300)
    assert monitors[0].state is not None and monitors[0].state.is_completed()
    checked = wait_for_events([events.DRIFT_CHECKED], since)
    assert checked and checked[-1].payload["champion_version"] == second
    assert not events_since([events.DRIFT_DETECTED], since)

    # and: no automation failed to render its parameters during the whole story. The crash detector is left out: a
    # heartbeat that overtakes its run's final state can make it try to crash a finished run, which the server
    # refuses (Prefect issue #19598); that refusal is an action.failed event and harms nothing.
    time.sleep(6)  # the event persister flushes every 5 s
    failed = events_since(["prefect.automation.action.failed"], started)
    assert [e for e in failed if e.resource.get("prefect.resource.name") != "driftloop-crashed-runs"] == []


def test_automations_carry_rendered_parameters(api: Settings) -> None:
    with get_client(sync_client=True) as client:
        automations = {a.name: a for a in client.read_automations()}
    expected = {
        "ingest-on-landed",
        "score-on-ingested",
        "monitor-on-scored",
        "retrain-on-drift",
        "rollback-on-degraded",
    }
    assert expected <= set(automations)
    for name in expected:
        (action,) = automations[name].actions
        parameters = getattr(action, "parameters", None)
        assert parameters and parameters.get("dataset"), name
    rollback = automations["rollback-on-degraded"].actions[0]
    assert set(getattr(rollback, "parameters", {})) == {"dataset", "from_version", "reason"}
    retrain = automations["retrain-on-drift"].trigger
    assert getattr(retrain, "within", None) is not None and retrain.within.total_seconds() >= 60
