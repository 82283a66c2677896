"""Event names and resource ids: the vocabulary shared by emitters and by `prefect.yaml` triggers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.events.filters import EventFilter, EventIDFilter, EventOccurredFilter

BATCH_LANDED = "driftloop.batch.landed"
BATCH_INGESTED = "driftloop.batch.ingested"
BATCH_QUARANTINED = "driftloop.batch.quarantined"
BATCH_SCORED = "driftloop.batch.scored"
DRIFT_CHECKED = "driftloop.drift.checked"
DRIFT_DETECTED = "driftloop.drift.detected"
MODEL_REGISTERED = "driftloop.model.registered"
MODEL_PROMOTED = "driftloop.model.promoted"
MODEL_REJECTED = "driftloop.model.rejected"
MODEL_AWAITING_APPROVAL = "driftloop.model.awaiting-approval"
MODEL_ROLLED_BACK = "driftloop.model.rolled-back"
MODEL_DEGRADED = "driftloop.model.degraded"
RETRAIN_SKIPPED = "driftloop.retrain.skipped"

ALL_EVENTS = (
    BATCH_LANDED,
    BATCH_INGESTED,
    BATCH_QUARANTINED,
    BATCH_SCORED,
    DRIFT_CHECKED,
    DRIFT_DETECTED,
    MODEL_REGISTERED,
    MODEL_PROMOTED,
    MODEL_REJECTED,
    MODEL_AWAITING_APPROVAL,
    MODEL_ROLLED_BACK,
    MODEL_DEGRADED,
    RETRAIN_SKIPPED,
)

_NAMESPACE = uuid.UUID("6f1d2c3a-8e5b-4d7a-9c1e-2b3a4d5e6f70")


def batch_resource(dataset: str, name: str) -> dict[str, str]:
    """Resource of a batch event: `driftloop.batch.<dataset>.<name>`."""
    return {
        "prefect.resource.id": f"driftloop.batch.{dataset}.{name}",
        "prefect.resource.name": f"{dataset}/{name}",
        "driftloop.dataset": dataset,
    }


def model_resource(model: str, dataset: str) -> dict[str, str]:
    """Resource of a model event: `driftloop.model.<model>`."""
    return {
        "prefect.resource.id": f"driftloop.model.{model}",
        "prefect.resource.name": model,
        "driftloop.dataset": dataset,
    }


def deterministic_id(*parts: str) -> uuid.UUID:
    """An event id that is the same for the same parts, so the server drops re-emits of one episode."""
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def emit(
    event: str, resource: dict[str, str], payload: dict[str, Any], event_id: uuid.UUID | None = None
) -> str | None:
    """Emit one driftloop event and return its id, or None when no Prefect API is configured."""
    sent = emit_event(event=event, resource=resource, payload=payload, id=event_id or uuid.uuid4())
    return str(sent.id) if sent else None


@dataclass(frozen=True)
class Announcement:
    """One event fixed by what it announces: its id is derived from the persisted record, so it can be sent again."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any]
    event_id: uuid.UUID
    decided_at: datetime  # when the record it announces was persisted


def announce(announcement: Announcement) -> str | None:
    return emit(announcement.event, announcement.resource, announcement.payload, announcement.event_id)


def unannounced(candidates: list[Announcement]) -> list[Announcement]:
    """The candidates the Prefect server holds no event for, looked up by id (the server answers 50 at a time)."""
    if not candidates:
        return []
    since = min(candidate.decided_at for candidate in candidates) - timedelta(minutes=5)
    seen: set[uuid.UUID] = set()
    with get_client(sync_client=True) as client:
        for start in range(0, len(candidates), _PAGE):
            ids = [candidate.event_id for candidate in candidates[start : start + _PAGE]]
            found = EventFilter(id=EventIDFilter(id=ids), occurred=EventOccurredFilter(since=since))
            seen |= {event.id for event in client.read_events(filter=found, limit=_PAGE).events}
    return [candidate for candidate in candidates if candidate.event_id not in seen]


_PAGE = 50
