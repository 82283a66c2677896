"""The validated-batch lake in the object store: write a batch once, list batches, read them back."""

from __future__ import annotations

import polars as pl

from tasks.data.lake import BatchMeta, batch_key, meta_key
from tasks.platform.codec import json_bytes, parquet_bytes
from tasks.platform.errors import ConfigurationError, NotEnoughData
from tasks.platform.store import Store

SHOWN_BATCHES = 5


def write_batch(store: Store, meta: BatchMeta, data: pl.DataFrame | bytes) -> BatchMeta:
    """Write a validated batch (the frame, or parquet bytes that hold exactly it) and its metadata, each at most
    once; return the metadata that stands: this call's if it wrote it, else the first writer's (read back only then)."""
    body = data if isinstance(data, bytes) else parquet_bytes(data)
    store.put_if_absent(batch_key(meta.dataset, meta.batch_id), body)
    key = meta_key(meta.dataset, meta.batch_id)
    if store.put_if_absent(key, json_bytes(meta.model_dump(mode="json"))):
        return meta
    return BatchMeta.model_validate(store.get_json(key))


def list_batches(store: Store, dataset: str) -> list[BatchMeta]:
    """Every validated batch of `dataset`, oldest first (by ingest time, then id)."""
    keys = [k for k in store.list_keys(f"lake/{dataset}/batches/") if k.endswith("/meta.json")]
    metas = [BatchMeta.model_validate(store.get_json(k)) for k in keys]
    return sorted(metas, key=lambda m: (m.ingested_at, m.batch_id))


def read_meta(store: Store, dataset: str, batch_id: str) -> BatchMeta:
    return BatchMeta.model_validate(store.get_json(meta_key(dataset, batch_id)))


def read_batch(store: Store, dataset: str, batch_id: str) -> pl.DataFrame:
    return store.read_parquet(batch_key(dataset, batch_id))


def resolve_batch(store: Store, dataset: str, batch_id: str, purpose: str) -> str:
    """`batch_id` if the lake holds it, or the newest validated batch when none is named; an unknown id is a
    ConfigurationError that names the newest batch ids there are."""
    if batch_id:
        if store.exists(meta_key(dataset, batch_id)):
            return batch_id
        newest = ", ".join(newest_batch_ids(store, dataset)) or "none yet"
        raise ConfigurationError(f"batch {batch_id!r} of {dataset!r} is not in the lake; the newest batches: {newest}")
    batches = list_batches(store, dataset)
    if not batches:
        raise NotEnoughData(f"{dataset}: no validated batch to {purpose}; land data and run `ingest` first")
    return batches[-1].batch_id


def newest_batch_ids(store: Store, dataset: str, count: int = SHOWN_BATCHES) -> list[str]:
    """The ids of the most recently written batches, newest first, from one listing (no metadata read)."""
    written = store.list_modified(f"lake/{dataset}/batches/")
    metas = sorted(((at, key) for key, at in written.items() if key.endswith("/meta.json")), reverse=True)
    return [key.rsplit("/", 2)[-2] for _, key in metas[:count]]


def newest_batches(store: Store, dataset: str, count: int) -> list[BatchMeta]:
    """The metadata of the `count` most recently written batches, oldest first: one listing and `count` reads, however
    many batches the lake holds (a batch's metadata is written when it is ingested)."""
    metas = [read_meta(store, dataset, batch_id) for batch_id in newest_batch_ids(store, dataset, count)]
    return sorted(metas, key=lambda m: (m.ingested_at, m.batch_id))
