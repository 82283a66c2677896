"""Notification automations applied to a real Prefect server: one per kind, created once, unchanged when applied
again, and gone when no notification block is named driftloop-alerts. (Their delivery, on the PostgreSQL-backed
stack like production: the `long` story in tests/deployments/test_stack.py, run by `make chaos`.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.client.orchestration import get_client

from deployments.stack import automations
from tests.alerts import alerts_block

pytestmark = pytest.mark.integration

NOTIFYING = {
    "driftloop-alert-drift",
    "driftloop-alert-decision",
    "driftloop-alert-quarantined",
    "driftloop-alert-budget-spent",
    "driftloop-alert-run-failed",
    "driftloop-alert-monitoring-silent",
}


@pytest.fixture(autouse=True)
def only_this_tests_automations() -> Iterator[None]:
    """The session's Prefect server is shared: the automations applied here (the crash detector too, which would
    mark other tests' heartbeat-less runs Crashed) are removed after the test."""
    with get_client(sync_client=True) as client:
        before = {automation.id for automation in client.read_automations()}
    yield
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            if automation.id not in before:
                client.delete_automation(automation.id)


def test_notifications_exist_once_with_a_block_and_not_at_all_without_one(stack_blocks: object) -> None:
    assert {a.name for a in automations.declared(alerts=None)} == {"driftloop-crashed-runs"}
    assert automations.notifying() == NOTIFYING
    alerts_block("http://127.0.0.1:9/hook")
    applied, again = automations.apply(), automations.apply()
    assert {name: applied[name] for name in NOTIFYING} == dict.fromkeys(NOTIFYING, "created")
    assert {name: again[name] for name in NOTIFYING} == dict.fromkeys(NOTIFYING, "unchanged")
    with get_client(sync_client=True) as client:
        copies = {name: len(client.read_automations_by_name(name)) for name in NOTIFYING}
        (drift,) = client.read_automations_by_name("driftloop-alert-drift")
        block = client.read_block_document_by_name(automations.ALERTS_BLOCK, "custom-webhook")
        client.delete_block_document(block.id)
        silenced = automations.apply()
        left = {name: client.read_automations_by_name(name) for name in NOTIFYING}
    assert copies == dict.fromkeys(NOTIFYING, 1)
    assert [action.model_dump().get("block_document_id") for action in drift.actions] == [block.id]
    assert all(silenced[name] == f"off (no notification block named {automations.ALERTS_BLOCK})" for name in NOTIFYING)
    assert all(found == [] for found in left.values())
    assert silenced["driftloop-crashed-runs"] == "unchanged"
