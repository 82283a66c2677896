"""The events that announce a persisted monitoring summary, built from the summary alone: monitor sends them right
after persisting it, and reconcile sends them again when the server never received them (same ids and payloads).
"""

from __future__ import annotations

from tasks.monitoring.models import MonitorSummary
from tasks.platform.events import DRIFT_CHECKED, DRIFT_DETECTED, Announcement, deterministic_id, model_resource


def drift_announcements(summary: MonitorSummary) -> list[Announcement]:
    """Always `driftloop.drift.checked`; on drift also `driftloop.drift.detected`, saying whether the episode is
    confirmed (only a confirmed one matches the retrain trigger).

    Both ids are derived from the check (model, tenure, version, batch, confirmation), so the server keeps one of
    each however often the check is announced.
    """
    # The tenure label keys the retrain trigger's cooldown: a rollback's first drift is not swallowed by the last one's.
    resource = model_resource(summary.model, summary.dataset) | {
        "driftloop.tenure": str(summary.tenure),
        "driftloop.confirmed": str(summary.confirmed).lower(),
        "driftloop.onset": summary.onset_batch_id or "",  # one episode: the drift notification is sent once per onset
    }
    check = (summary.model, f"t{summary.tenure}", summary.champion_version, summary.batch_id)
    checked = Announcement(
        event=DRIFT_CHECKED,
        resource=resource,
        payload=summary.model_dump(mode="json", include=_CHECKED_FIELDS),
        event_id=deterministic_id("checked", *check),
        decided_at=summary.checked_at,
    )
    if not summary.drifted:
        return [checked]
    detected = Announcement(
        event=DRIFT_DETECTED,
        resource=resource,
        payload=summary.model_dump(mode="json", include=_DETECTED_FIELDS),
        event_id=deterministic_id("drift", *check, "confirmed" if summary.confirmed else "unconfirmed"),
        decided_at=summary.checked_at,
    )
    return [checked, detected]


_DETECTED_FIELDS = {
    "dataset",
    "model",
    "champion_version",
    "tenure",
    "batch_id",
    "onset_batch_id",
    "confirmed",
    "episode_batches",
    "drifted_columns",
    "drift_share",
    "performance",
    "reasons",
    "report_uri",
}
_CHECKED_FIELDS = _DETECTED_FIELDS | {"drifted", "transient_batches", "summary_uri"}
