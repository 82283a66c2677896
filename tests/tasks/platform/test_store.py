"""The store against a real S3 endpoint: conditional writes never overwrite, listings are complete."""

from __future__ import annotations

import pytest

from tasks.platform.config import DatasetConfig
from tasks.platform.store import forget_clients, open_store

pytestmark = pytest.mark.integration


def test_put_if_absent_writes_once(dataset: DatasetConfig) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/once.txt"
    assert store.put_if_absent(key, b"first") is True
    assert store.put_if_absent(key, b"second") is False
    assert store.get(key) == b"first"


def test_list_keys_pages_through_everything(dataset: DatasetConfig) -> None:
    store = dataset.store
    for i in range(1005):
        store.put(f"test/{dataset.name}/many/{i:05d}", b"x")
    keys = store.list_keys(f"test/{dataset.name}/many/")
    assert len(keys) == 1005 and keys[0].endswith("00000")


def test_get_json_if_exists_tells_a_missing_key_from_a_present_one(dataset: DatasetConfig) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/record.json"
    assert store.get_json_if_exists(key) is None
    store.put(key, b'{"a": 1}')
    assert store.get_json_if_exists(key) == {"a": 1}


def test_stores_of_one_location_share_one_client_until_forgotten(dataset: DatasetConfig) -> None:
    first = open_store(dataset.storage)
    assert open_store(dataset.storage).client is first.client
    other = open_store(dataset.storage.model_copy(update={"region": "eu-west-1"}))
    assert other.client is not first.client and other.storage_options["aws_region"] == "eu-west-1"
    forget_clients()
    assert open_store(dataset.storage).client is not first.client
