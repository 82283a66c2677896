"""The persisted decisions of the last day and which of them the Prefect server never received, for reconcile.

A decision is persisted before it is announced; a crash between the two, or an event lost on its way, leaves a
record nobody was told about. The candidates are the champion history's records, the drift detected in the current
tenure and a degradation its bake found, all decided within `WITHIN` (well inside the server's event retention, so
an event trimmed by age is never taken for one that was lost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from tasks.data import lake
from tasks.model import champions, history
from tasks.model.champions import HistoryRecord
from tasks.monitoring.announcements import drift_announcements
from tasks.monitoring.confirmation import CheckMark, parse_marks
from tasks.monitoring.models import MonitorSummary
from tasks.operations.reconcile import Unannounced
from tasks.platform import events
from tasks.platform.config import DatasetConfig

WITHIN = timedelta(days=1)
DRIFTED = {"drifted", "strong"}


def unannounced(cfg: DatasetConfig, log: list[HistoryRecord], checks: dict[str, datetime]) -> list[Unannounced]:
    """The decisions of the last `WITHIN` whose events the server holds no trace of; `checks` are the tenure's check
    marks with when each was written (only the recent ones' summaries are read)."""
    recent = datetime.now(UTC) - WITHIN
    marks = parse_marks([key for key, written in checks.items() if written >= recent])
    decisions = [(history.announcement(cfg, entry), f"v{entry.to_version} #{entry.sequence}") for entry in log]
    drifts = [
        (announcement, f"batch {summary.batch_id}")
        for summary in _drift_summaries(cfg, log, marks)
        for announcement in drift_announcements(summary)
        if announcement.event in (events.DRIFT_DETECTED, events.MODEL_DEGRADED)
    ]
    candidates = {a.event_id: (a, subject) for a, subject in decisions + drifts if a.decided_at >= recent}
    lost = events.unannounced([announcement for announcement, _ in candidates.values()])
    return [_view(announcement, candidates[announcement.event_id][1]) for announcement in lost]


def send(lost: Unannounced) -> str | None:
    """Announce again, under the id it was first sent with."""
    announcement = events.Announcement(lost.event, lost.resource, lost.payload, UUID(lost.event_id), lost.decided_at)
    return events.announce(announcement)


def _drift_summaries(cfg: DatasetConfig, log: list[HistoryRecord], marks: list[CheckMark]) -> list[MonitorSummary]:
    """The persisted summaries of the tenure's drifted checks, and of its first `bake_batches` checks, where a bake
    may have found the champion degraded (a mark without a summary is monitor's to finish)."""
    champion = champions.champion(log)
    if champion is None:
        return []
    baked = [mark.batch_id for mark in marks[: cfg.promotion.bake_batches]]
    drifted = [mark.batch_id for mark in marks if mark.mark in DRIFTED and mark.batch_id not in baked]
    keys = [lake.drift_check_prefix(cfg.name, batch_id, champion) + "summary.json" for batch_id in baked + drifted]
    found = [cfg.store.get_json_if_exists(key) for key in keys]
    return [MonitorSummary.model_validate(summary) for summary in found if summary is not None]


def _view(announcement: events.Announcement, subject: str) -> Unannounced:
    return Unannounced(
        event=announcement.event,
        subject=subject,
        event_id=str(announcement.event_id),
        resource=announcement.resource,
        payload=announcement.payload,
        decided_at=announcement.decided_at,
    )
