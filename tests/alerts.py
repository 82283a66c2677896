"""Alerts under test: a local HTTP receiver standing in for Slack (or any webhook), the notification block that
points at it, and flows that announce each kind of decision through the project's own announcement code."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prefect import flow
from prefect.blocks.notifications import CustomWebhookNotificationBlock

from deployments.stack import automations
from tasks.model.gates import GateResult, PromotionDecision
from tasks.model.steps.retrain import BUDGET_SPENT, RetrainClaim, record_skip
from tasks.monitoring.announcements import drift_announcements
from tasks.monitoring.models import MonitorSummary
from tasks.platform import events
from tasks.platform.config import DatasetConfig


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def subjects(self) -> list[str]:
        return [str(message.get("subject", "")) for message in self.received]


@contextmanager
def receiver() -> Iterator[Receiver]:
    """Listen on a free loopback port until the block ends; the Prefect server's actions service posts here."""
    got = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()


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
