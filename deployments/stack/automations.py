"""The automations in `automations.yaml`, applied to the stack's Prefect server by name: created when missing,
updated when they differ, left alone when they match, so `driftloop up` can apply them every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import AutomationCore

from blocks.settings import PROJECT_ROOT, Settings
from deployments.stack.environment import stack_api

AUTOMATIONS_FILE = PROJECT_ROOT / "automations.yaml"


def declared(path: Path = AUTOMATIONS_FILE) -> list[AutomationCore]:
    """The automations the file declares, validated as Prefect's own schema."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return [AutomationCore.model_validate(entry) for entry in document["automations"]]


def apply(settings: Settings, path: Path = AUTOMATIONS_FILE) -> dict[str, str]:
    """Make the server's automations match the file; what happened to each, by name (created/updated/unchanged)."""
    done: dict[str, str] = {}
    with stack_api(settings), get_client(sync_client=True) as client:
        for automation in declared(path):
            existing = client.read_automations_by_name(automation.name)
            for extra in existing[1:]:  # a name is one automation: copies left by an interrupted apply go
                client.delete_automation(extra.id)
            if not existing:
                client.create_automation(automation)
                done[automation.name] = "created"
            elif comparable(existing[0]) == comparable(automation):
                done[automation.name] = "unchanged"
            else:
                client.update_automation(existing[0].id, automation)
                done[automation.name] = "updated"
    return done


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
