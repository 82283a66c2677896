"""Artifact keys: one per kind and dataset, in the only characters Prefect accepts; tables rounded for people."""

from __future__ import annotations

import json

import pytest
from prefect import flow
from prefect.artifacts import Artifact

from tasks.platform.artifacts import artifact_key, publish_table


def test_artifact_keys_are_lowercase_and_sanitised() -> None:
    assert artifact_key("ingest", "My_Data.v2") == "ingest-my-data-v2"
    assert artifact_key("drift", "credit") == "drift-credit"


def test_a_key_per_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown artifact kind"):
        artifact_key("ingest-abc123", "credit")


@pytest.mark.integration
def test_a_published_table_rounds_numbers_for_people_and_keeps_the_rest(prefect_api: None) -> None:
    flow(publish_table)("score", "Rounding", [{"auc": 0.812345678, "rows": 1200, "batch": "b1"}], "batch b1 scored")
    artifact = Artifact.get("score-rounding")
    assert artifact is not None and artifact.description == "batch b1 scored"
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert rows == [{"auc": 0.8123, "rows": 1200, "batch": "b1"}]


@pytest.mark.integration
def test_a_table_published_outside_any_run_is_kept_without_a_deprecation(prefect_api: None) -> None:
    # The model server's lander publishes its shadow summaries outside any flow or task run.
    publish_table("shadow", "Outside", [{"agreement": 0.987654, "rows": 200}], "v2 in shadow of v1")
    artifact = Artifact.get("shadow-outside")
    assert artifact is not None and artifact.description == "v2 in shadow of v1" and artifact.flow_run_id is None
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert rows == [{"agreement": 0.9877, "rows": 200}]
