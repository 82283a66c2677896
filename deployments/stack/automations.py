"""The automations in `automations.yaml`, applied to a Prefect server by name: created when missing, updated when
they differ, left alone when they match, so `driftloop up` (and `init`) can apply them every time.

Notifications go to the one notification block named `driftloop-alerts`, whatever its type; with no such block the
notifying automations are removed rather than created: the user chose silence.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.events.schemas.automations import AutomationCore

from blocks import names
from blocks.models import DriftPolicy
from blocks.settings import PROJECT_ROOT
from tasks.platform.config import load_block

AUTOMATIONS_FILE = PROJECT_ROOT / "automations.yaml"
ALERTS_BLOCK = "driftloop-alerts"
NOTIFY = "send-notification"
SILENT_MONITORING = "driftloop-alert-monitoring-silent"  # its window is the drift policy's alert_if_no_check_hours


def declared(
    path: Path = AUTOMATIONS_FILE, alerts: UUID | None = None, silent_after: timedelta | None = None
) -> list[AutomationCore]:
    """The automations the file declares, validated as Prefect's own schema: notifications addressed to the
    `alerts` block, or left out without one; the silent-monitoring window set to `silent_after` if given."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    entries: list[dict[str, Any]] = []
    for entry in document["automations"]:
        notifying = [action for action in entry["actions"] if action["type"] == NOTIFY]
        if notifying and alerts is None:
            continue
        for action in notifying:
            action["block_document_id"] = str(alerts)
        if entry["name"] == SILENT_MONITORING and silent_after is not None:
            entry["trigger"]["within"] = silent_after.total_seconds()
        entries.append(entry)
    return [AutomationCore.model_validate(entry) for entry in entries]


def apply(path: Path = AUTOMATIONS_FILE) -> dict[str, str]:
    """Make the current Prefect API's automations match the file; what happened to each, by name (created, updated,
    unchanged, or removed: a notification with no alerts block)."""
    with get_client(sync_client=True) as client:
        alerts = alerts_block(client)
        wanted = declared(path, alerts, _silent_after())
        done = {automation.name: _apply_one(client, automation) for automation in wanted}
        for name in sorted(notifying(path) - set(done)):
            for stale in client.read_automations_by_name(name):
                client.delete_automation(stale.id)
            done[name] = f"off (no notification block named {ALERTS_BLOCK})"
    return done


def notifying(path: Path = AUTOMATIONS_FILE) -> set[str]:
    """Names of the automations in the file that send a notification."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return {entry["name"] for entry in document["automations"] if any(a["type"] == NOTIFY for a in entry["actions"])}


def alerts_block(client: SyncPrefectClient) -> UUID | None:
    """The id of the notification block named `driftloop-alerts` (a block type that can notify), if one exists."""
    for document in client.read_block_documents(include_secrets=False):
        schema = document.block_schema
        if document.name == ALERTS_BLOCK and schema is not None and "notify" in schema.capabilities:
            return document.id
    return None


def _silent_after() -> timedelta | None:
    try:
        return timedelta(hours=load_block(DriftPolicy, names.DRIFT_POLICY).alert_if_no_check_hours)
    except ValueError:  # no drift policy saved yet: the file's window
        return None


def _apply_one(client: SyncPrefectClient, automation: AutomationCore) -> str:
    existing = client.read_automations_by_name(automation.name)
    for extra in existing[1:]:  # a name is one automation: copies left by an interrupted apply go
        client.delete_automation(extra.id)
    if not existing:
        client.create_automation(automation)
        return "created"
    if comparable(existing[0]) == comparable(automation):
        return "unchanged"
    client.update_automation(existing[0].id, automation)
    return "updated"


def comparable(automation: AutomationCore) -> Any:
    """The automation's declared fields as plain data, sets sorted (their order differs between processes)."""
    return _sorted(AutomationCore.model_validate(automation.model_dump()).model_dump(mode="json"))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_sorted(item) for item in value]
        return sorted(items) if all(isinstance(item, str) for item in items) else items
    return value
