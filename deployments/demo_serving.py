"""The demo's last step: the champion answers requests online, a freshly trained challenger answers a canary of
them, and the requests come back as a batch the loop ingests like any other."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from blocks import names
from blocks.models import ServingPolicy
from blocks.settings import Settings
from deployments.stack.state import load_or_create_credentials
from tasks.contracts.credit import generate

CANARY_PERCENT = 20.0
REQUESTS = 1000


def online(settings: Settings, dataset: str, train: Callable[[], None], seed: int) -> datetime:
    """Canary a new challenger, send requests one applicant each, print who answered; when they were sent."""
    chosen = ServingPolicy(mode="canary", canary_percent=CANARY_PERCENT, flush_rows=REQUESTS)  # one micro-batch
    chosen.save(names.serving_policy(dataset), overwrite=True)
    train()  # registers the challenger; meanwhile the server picks the policy up
    url = f"http://{settings.host}:{settings.serve_port}"
    ready = _wait_for_canary(url, dataset)
    headers = {"Authorization": f"Bearer {load_or_create_credentials(settings.home).serve_token}"}
    frame = generate(REQUESTS, seed, datetime(2024, 3, 20)).drop("defaulted")
    records: list[dict[str, Any]] = orjson.loads(orjson.dumps(frame.to_dicts()))
    since = datetime.now(UTC)
    answered: Counter[str] = Counter()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for record in records:
            body = client.post(f"/v1/datasets/{dataset}/predict", json={"records": [record]}).json()
            answered[body["predictions"][0]["version"]] += 1
    champion, challenger = ready["champion"], ready["challenger"]
    print(
        f"   {REQUESTS} requests: v{champion} (champion) answered {answered[champion]}, v{challenger} (canary, "
        f"{CANARY_PERCENT:.0f}% of applicants by id) answered {answered[challenger]}"
    )
    print(
        f'   $ curl -H "Authorization: Bearer $DRIFTLOOP_SERVE_TOKEN" -H "Content-Type: application/json" '
        f"-d '{{\"records\": [...]}}' {url}/v1/datasets/{dataset}/predict   (docs: {url}/docs)"
    )
    return since


def _wait_for_canary(url: str, dataset: str, timeout: float = 120.0) -> dict[str, Any]:
    """The server re-reads serving policies every `serve_refresh_seconds` and follows the challenger alias."""
    deadline = time.monotonic() + timeout
    while True:
        served: dict[str, Any] = httpx.get(f"{url}/ready", timeout=10).json()["datasets"].get(dataset, {})
        if (served.get("mode") == "canary" and served.get("challenger")) or time.monotonic() > deadline:
            return served
        time.sleep(1)
