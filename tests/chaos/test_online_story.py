"""Online traffic feeds the loop, on a stack of its own: requests to the stack's model server are landed as a
micro-batch, which the automations ingest, score and monitor like any batch. (Long rather than faulty: the micro-batch
waits for the serving policy's flush interval, so the story lives in `make chaos`.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from blocks.settings import Settings
from deployments.stack.state import load_or_create_credentials
from deployments.watch.events import wait_for_events
from deployments.watch.runs import wait_for_runs, wait_until
from tasks.contracts.credit import generate
from tasks.platform import events
from tests.durable_fixture import champion_dataset

pytestmark = [pytest.mark.chaos, pytest.mark.stack, pytest.mark.xdist_group("stack")]


def test_requests_to_the_model_server_are_landed_ingested_scored_and_monitored_by_the_automations(
    api: Settings,
) -> None:
    cfg = champion_dataset("credit-online", "credit-risk-online", seed=600)
    url = f"http://{api.host}:{api.serve_port}"
    headers = {"Authorization": f"Bearer {load_or_create_credentials(api.home).serve_token}"}

    def served() -> Any:
        return httpx.get(f"{url}/ready", timeout=10).json()["datasets"].get(cfg.name, {}).get("champion")

    wait_until(lambda: served() is not None, 90, "the server to load the new dataset's champion")
    since = datetime.now(UTC)
    frame = generate(4000, 610, datetime(2024, 3, 5)).drop("defaulted")
    sent = orjson.loads(orjson.dumps(frame.to_dicts()))
    answer = httpx.post(f"{url}/v1/datasets/{cfg.name}/predict", json={"records": sent}, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text

    mine = {"where": lambda event: event.resource.get("driftloop.dataset") == cfg.name}
    (landed,) = wait_for_events([events.BATCH_LANDED], since, timeout=150, **mine)
    assert landed.payload["source"] == "online" and landed.payload["rows"] == 4000
    assert landed.payload["key"].startswith(f"landing/{cfg.name}/online/")
    (monitored,) = wait_for_runs("monitor", 1, since, timeout=300, parameters={"dataset": cfg.name})
    assert monitored.state is not None and monitored.state.is_completed(), monitored.state
    (ingested,) = wait_for_events([events.BATCH_INGESTED], since, **mine)
    assert ingested.payload["rows"] == 4000 and ingested.payload["key"] == landed.payload["key"]
    (checked,) = wait_for_events([events.DRIFT_CHECKED], since, **mine)
    assert checked.payload["batch_id"] == ingested.payload["batch_id"]
