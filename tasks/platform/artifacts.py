"""Keys of the Prefect artifacts driftloop keeps: one per kind and dataset, so versions accumulate under one key.

A key per batch or per run would add thousands of keys a day at a production cadence; the artifact's description and
rows name the batch or version each version is about.
"""

from __future__ import annotations

from typing import Any

import orjson
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError

KINDS = ("simulate", "ingest", "score", "drift", "train", "promotion", "rollback", "retrain", "reconcile", "shadow")
DIGITS = 4  # significant digits: AUCs and small p-values alike read at a glance; the records keep every digit


def publish_table(kind: str, dataset: str, rows: list[dict[str, Any]], description: str) -> None:
    """Keep `rows` as the newest version of the `<kind>-<dataset>` table, with numbers rounded for people."""
    rounded = [{k: float(f"{v:.{DIGITS}g}") if isinstance(v, float) else v for k, v in row.items()} for row in rows]
    key = artifact_key(kind, dataset)
    try:
        get_run_context()
    except MissingContextError:
        # The model server's lander publishes outside any run: Prefect's helper is deprecated there, its API is not.
        data = orjson.dumps(rounded).decode()  # NaN as null, as the helper writes it
        with get_client(sync_client=True) as client:
            client.create_artifact(ArtifactCreate(type="table", key=key, description=description, data=data))
        return
    create_table_artifact(rounded, key=key, description=description)


def artifact_key(kind: str, dataset: str) -> str:
    """`<kind>-<dataset>`, lowercase with anything outside [a-z0-9-] replaced (Prefect accepts nothing else)."""
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}; one of {', '.join(KINDS)}")
    raw = f"{kind}-{dataset}".lower()
    return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in raw)
