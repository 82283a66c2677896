"""The events that announce a persisted monitoring summary, built from the summary alone: monitor sends them right
after persisting it, and reconcile sends them again when the server never received them (same ids and payloads).
"""

from __future__ import annotations

from tasks.monitoring.models import MonitorSummary
from tasks.platform.events import (
    DRIFT_CHECKED,
    DRIFT_DETECTED,
    MODEL_DEGRADED,
    Announcement,
    deterministic_id,
    model_resource,
)


def drift_announcements(summary: MonitorSummary) -> list[Announcement]:
    """Always `driftloop.drift.checked`; on drift also `driftloop.drift.detected`, saying whether the episode is
    confirmed (only a confirmed one matches the retrain trigger); when the bake check found the champion degraded,
    `driftloop.model.degraded` (the rollback trigger).

    The ids are derived from the check (model, tenure, version, batch, confirmation), so the server keeps one of
    each however often the check is announced; the degraded event's from the tenure alone: one per promotion.
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
    degraded = _degraded(summary, resource)
    if not summary.drifted:
        return [checked, *degraded]
    detected = Announcement(
        event=DRIFT_DETECTED,
        resource=resource,
        payload=summary.model_dump(mode="json", include=_DETECTED_FIELDS),
        event_id=deterministic_id("drift", *check, "confirmed" if summary.confirmed else "unconfirmed"),
        decided_at=summary.checked_at,
    )
    return [checked, detected, *degraded]


def _degraded(summary: MonitorSummary, resource: dict[str, str]) -> list[Announcement]:
    bake = summary.bake
    if bake is None or bake.outcome != "degraded":
        return []
    payload = summary.model_dump(mode="json", include={"dataset", "model", "champion_version", "tenure", "batch_id"})
    return [
        Announcement(
            event=MODEL_DEGRADED,
            resource=resource,
            payload=payload | bake.model_dump(mode="json"),
            event_id=deterministic_id("degraded", summary.model, f"t{summary.tenure}"),
            decided_at=summary.checked_at,
        )
    ]


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
