"""Notifications through Prefect automations, on a real Prefect server whose actions service posts to a local
receiver standing in for Slack: each decision announced once, failures announced, silence without a block."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect import flow
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client

from deployments.stack import automations
from deployments.watch.runs import wait_until
from flows.ingest import ingest
from flows.rollback import rollback
from flows.simulate import simulate
from tasks.model.gates import GateResult, PromotionDecision
from tasks.model.steps.retrain import BUDGET_SPENT, RetrainClaim, record_skip
from tasks.monitoring.announcements import drift_announcements
from tasks.monitoring.models import MonitorSummary
from tasks.platform import events
from tasks.platform.config import DatasetConfig
from tests.alerts_receiver import Receiver, receiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

NOTIFYING = {
    "driftloop-alert-drift",
    "driftloop-alert-decision",
    "driftloop-alert-quarantined",
    "driftloop-alert-budget-spent",
    "driftloop-alert-run-failed",
    "driftloop-alert-monitoring-silent",
}


def drift(cfg: DatasetConfig, batch: str, onset: str) -> MonitorSummary:
    """A confirmed drift check of `batch`, in the episode that began at `onset`."""
    return MonitorSummary(
        dataset=cfg.name,
        model=cfg.model_name,
        champion_version="3",
        batch_id=batch,
        checked_at=datetime.now(UTC),
        drifted=True,
        reasons=["credit_score drifted (psi 0.41 > 0.2)"],
        drifted_columns=["credit_score"],
        drift_share=0.25,
        columns=[],
        prediction=None,
        performance=None,
        onset_batch_id=onset,
        confirmed=True,
        episode_batches=[onset, batch],
        report_uri=f"s3://bucket/reports/{cfg.name}/drift/{batch}-v3/report.html",
        summary_uri=f"s3://bucket/reports/{cfg.name}/drift/{batch}-v3/summary.json",
        report_agreement=1.0,
    )


@flow(name="monitor")
def announce_checks(checks: list[MonitorSummary]) -> None:
    for check in checks:
        for announcement in drift_announcements(check):
            events.announce(announcement)


@flow(name="promote")
def announce_rejection(cfg: DatasetConfig) -> None:
    gates = [GateResult(gate="min_lift", passed=False, value=-0.0123456, threshold=0.0, detail="lower bound")]
    decision = PromotionDecision(
        dataset=cfg.name,
        model=cfg.model_name,
        challenger_version="4",
        champion_version="3",
        promoted=False,
        gates=gates,
        reasons=["min_lift: -0.01235 < 0"],
    )
    resource = events.model_resource(cfg.model_name, cfg.name)
    event_id = events.deterministic_id(events.MODEL_REJECTED, cfg.model_name, "4")
    events.announce(
        events.Announcement(events.MODEL_REJECTED, resource, decision.model_dump(mode="json"), event_id, time_now())
    )


@flow(name="retrain")
def skip_for_budget(cfg: DatasetConfig) -> None:
    reason = f"{BUDGET_SPENT}: 3 attempts per 24 h"
    claim = RetrainClaim(
        dataset=cfg.name,
        model=cfg.model_name,
        key="k",
        champion_version="3",
        tenure=1,
        attempt=4,
        granted=False,
        reason=reason,
        claimed_at=time_now(),
    )
    record_skip(claim)


def time_now() -> datetime:
    return datetime.now(UTC)


def alerts_block(url: str) -> None:
    block = CustomWebhookNotificationBlock(
        name="driftloop", url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"}, allow_private_urls=True
    )
    block.save(automations.ALERTS_BLOCK, overwrite=True)


def messages(got: Receiver, fragment: str) -> list[dict[str, Any]]:
    return [message for message in got.received if fragment in message["subject"]]


def test_each_decision_and_failure_is_announced_once_and_nothing_without_a_block(dataset: DatasetConfig) -> None:
    with receiver() as got:
        alerts_block(got.url)
        applied, again = automations.apply(), automations.apply()
        assert {name: applied[name] for name in NOTIFYING} == dict.fromkeys(NOTIFYING, "created")
        assert {name: again[name] for name in NOTIFYING} == dict.fromkeys(NOTIFYING, "unchanged")

        # one episode checked twice (one alert), a second episode (a second alert), an unconfirmed one (none)
        quiet = drift(dataset, "b9", "b9").model_copy(update={"confirmed": False, "episode_batches": ["b9"]})
        announce_checks([drift(dataset, "b2", "b1"), drift(dataset, "b3", "b1"), drift(dataset, "b8", "b7"), quiet])
        announce_rejection(dataset)
        skip_for_budget(dataset)
        bad = simulate(dataset=dataset.name, scenario="schema_break", batches=1, rows=200)
        ingested = ingest(dataset=dataset.name, return_state=True)
        rolled = rollback(dataset=dataset.name, return_state=True)
        assert ingested.is_failed() and rolled.is_failed()  # a quarantine, and no champion: a person is needed

        kinds = ["drift confirmed", "rejected", "budget spent", "quarantined", "ingest run", "rollback run"]
        wait_until(lambda: all(messages(got, kind) for kind in kinds), 90, "every kind of notification")
        time.sleep(5)  # a second alert for the same episode would arrive within the same few seconds
        # Prefect's trigger service is at-least-once: on SQLite (this server) a locked database makes it evaluate an
        # event again, which can repeat an alert word for word. Distinct alerts are what must be one per decision.
        once = {kind: {m["body"] for m in messages(got, kind)} for kind in kinds}

        drifts = once["drift confirmed"]  # two episodes, each once; the unconfirmed one stays quiet
        assert len(drifts) == 2 and len([body for body in drifts if "(onset b1)" in body]) == 1, drifts
        (rejection,) = once["rejected"]
        assert "FAIL  min_lift: -0.01235 vs 0" in rejection and "champion v3 -> v4" in rejection
        (budget,) = once["budget spent"]
        assert BUDGET_SPENT in budget
        (quarantine,) = once["quarantined"]
        assert bad[0] in quarantine and "errors.json" in quarantine
        (ingest_failed,), (rollback_failed,) = once["ingest run"], once["rollback run"]
        assert str(ingested.state_details.flow_run_id) in ingest_failed and "quarantined" in ingest_failed
        assert str(rolled.state_details.flow_run_id) in rollback_failed and "no earlier champion" in rollback_failed
        assert all("flow run " in body or "/runs/flow-run/" in body for bodies in once.values() for body in bodies)

        # no block, no notifications: the automations go, the others stay
        with get_client(sync_client=True) as client:
            client.delete_block_document(
                client.read_block_document_by_name(automations.ALERTS_BLOCK, "custom-webhook").id
            )
            silenced = automations.apply()
            left = {name: client.read_automations_by_name(name) for name in NOTIFYING}
        assert all(silenced[name].startswith("off") for name in NOTIFYING)
        assert all(found == [] for found in left.values())
        assert silenced["driftloop-crashed-runs"] == "unchanged"
