"""Artifact keys: one per kind and dataset, in the only characters Prefect accepts."""

from __future__ import annotations

import pytest

from tasks.platform.artifacts import artifact_key


def test_artifact_keys_are_lowercase_and_sanitised() -> None:
    assert artifact_key("ingest", "My_Data.v2") == "ingest-my-data-v2"
    assert artifact_key("drift", "credit") == "drift-credit"


def test_a_key_per_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown artifact kind"):
        artifact_key("ingest-abc123", "credit")
