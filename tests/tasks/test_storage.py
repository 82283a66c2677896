"""The store against a real S3 endpoint: conditional writes never overwrite, listings are complete."""

from __future__ import annotations

import pytest

from tasks.config import DatasetConfig

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
