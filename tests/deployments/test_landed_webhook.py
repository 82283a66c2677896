"""The producer announcement: an S3 "Object Created" event from EventBridge, through the webhook template, is the
`driftloop.batch.landed` event the simulator emits, and prefect.yaml's `ingest-on-landed` trigger runs ingest on it
with the dataset and key, as Prefect's own trigger and parameter code decides; anything else starts nothing.

The template is rendered in Prefect's sandboxed template environment; the trigger is built from prefect.yaml the way
`prefect deploy` builds it, and evaluated and rendered by the server's automation models.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._triggers import DeploymentTriggerAdapter
from prefect.events import Event
from prefect.server.events.actions import RunDeployment
from prefect.server.events.schemas.automations import Automation, Firing, TriggeredAction, TriggerState
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.utilities.user_templates import render_user_template_sync, validate_user_template
from prefect.types._datetime import now

from blocks.settings import PROJECT_ROOT
from tasks.data.lake import landing_prefix
from tasks.platform import events

BUCKET_DIR = PROJECT_ROOT / "deployments" / "bucket"
TEMPLATE = (BUCKET_DIR / "landed-webhook.json.j2").read_text()
RULE = json.loads((BUCKET_DIR / "landed-rule.json").read_text())


def s3_object_created(key: str, bucket: str = "models-prod") -> dict[str, Any]:
    """An EventBridge event for an S3 PutObject, as AWS documents it and an API destination POSTs it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2024-03-01T10:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5120, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f0829"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "111122223333",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def rendered(body: object) -> ReceivedEvent:
    """The event the webhook makes of a request body: a valid Prefect event, its id and time filled in where the
    template sets none, as Prefect Cloud fills them."""
    validate_user_template(TEMPLATE)
    context = {"body": body, "headers": {"content-type": "application/json"}, "method": "POST"}
    event = Event.model_validate(json.loads(render_user_template_sync(TEMPLATE, context)))
    return ReceivedEvent.model_validate(event.model_dump(mode="json"))


def ingest_on_landed() -> Automation:
    """The `ingest-on-landed` trigger of prefect.yaml, as `prefect deploy` turns it into an automation."""
    document = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    specs = [trigger for entry in document["deployments"] for trigger in entry.get("triggers", [])]
    trigger = DeploymentTriggerAdapter.validate_python(next(s for s in specs if s["name"] == "ingest-on-landed"))
    trigger.set_deployment_id(uuid.uuid4())
    return Automation.model_validate(trigger.as_automation().model_dump(mode="json") | {"id": str(uuid.uuid4())})


def ingest_parameters(event: ReceivedEvent) -> dict[str, Any] | None:
    """The parameters ingest runs with for this event, or None if the trigger does not fire on it."""
    automation = ingest_on_landed()
    if not automation.trigger.covers(event):
        return None
    action, when = automation.actions[0], {"triggered": now("UTC"), "triggering_labels": {}, "triggering_event": event}
    firing = Firing(trigger=automation.trigger, trigger_states={TriggerState.Triggered}, **when)
    triggered = TriggeredAction(automation=automation, firing=firing, action=action, action_index=0, **when)
    assert isinstance(action, RunDeployment)
    return asyncio.run(action.render_parameters(triggered))


@pytest.mark.parametrize(
    ("key", "dataset", "name"),
    [
        ("landing/credit/batch-20240301.parquet", "credit", "batch-20240301.parquet"),
        ("landing/credit/2024/03/01/export.csv", "credit", "2024/03/01/export.csv"),
        ("landing/credit/2024-03-01T10:00:00 q1+q2 100%.csv", "credit", "2024-03-01T10:00:00 q1+q2 100%.csv"),
    ],
    ids=["flat", "nested-folders", "key-as-delivered"],
)
def test_an_object_under_landing_is_announced_and_ingested_by_key(key: str, dataset: str, name: str) -> None:
    body = s3_object_created(key)
    event = rendered(body)
    assert event.event == events.BATCH_LANDED
    assert event.resource.root == events.batch_resource(dataset, name)  # exactly what the simulator emits
    assert event.payload == {"dataset": dataset, "key": key, "bucket": "models-prod"}
    assert str(event.id) == body["id"] and event.occurred.isoformat() == "2024-03-01T10:00:00+00:00"
    assert ingest_parameters(event) == {"dataset": dataset, "key": key}
    assert key.startswith(landing_prefix(dataset))  # what ingest requires of a key it is given


def test_the_webhook_event_starts_ingest_as_the_simulators_does() -> None:
    key = "landing/credit/batch-7.parquet"
    simulated = ReceivedEvent(
        event=events.BATCH_LANDED,
        resource=events.batch_resource("credit", "batch-7.parquet"),
        payload={"dataset": "credit", "key": key, "scenario": "baseline"},
        occurred=now("UTC"),
        id=uuid.uuid4(),
    )
    assert ingest_parameters(rendered(s3_object_created(key))) == ingest_parameters(simulated)


@pytest.mark.parametrize(
    "body",
    [
        s3_object_created("lake/credit/batches/ab12/data.parquet"),
        s3_object_created("landing/credit/2024/"),  # a folder marker
        s3_object_created("landing/stray.csv"),  # no dataset folder
        s3_object_created("landing//x.csv"),
        {"detail": {}},
        "not json at all",
    ],
    ids=["lake", "folder-marker", "no-dataset", "empty-dataset", "no-object", "text-body"],
)
def test_anything_else_becomes_an_ignored_event_that_starts_nothing(body: object) -> None:
    event = rendered(body)
    assert event.event == "driftloop.object.ignored"
    assert not event.resource.id.startswith("driftloop.batch.")
    assert ingest_parameters(event) is None


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's matching for the pattern forms the rule uses: nested fields, exact values, `prefix`."""
    for field, expected in pattern.items():
        value = event.get(field)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif not any(
            value == want or (isinstance(want, dict) and str(value).startswith(want["prefix"])) for want in expected
        ):
            return False
    return True


def test_the_eventbridge_rule_sends_only_landing_objects_of_the_bucket() -> None:
    rule = json.loads(json.dumps(RULE).replace("YOUR-BUCKET", "models-prod"))
    assert matches(rule, s3_object_created("landing/credit/2024/03/a.csv"))
    assert not matches(rule, s3_object_created("lake/credit/batches/ab12/data.parquet"))
    assert not matches(rule, s3_object_created("landing/credit/a.csv", bucket="someone-else"))
    assert not matches(rule, s3_object_created("landing/credit/a.csv") | {"detail-type": "Object Deleted"})
