"""The validated-batch lake in the object store: write a batch once, find the recent ones, read them back.

Each batch's meta.json, written once beside its data, is the truth; tasks.data.lake_index finds the recent ones.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta

import polars as pl

from tasks.data.lake import BatchMeta, batch_key, checks_prefix, meta_key
from tasks.data.lake_index import index_batch, recent_batches
from tasks.platform.codec import json_bytes, parquet_bytes
from tasks.platform.errors import ConfigurationError, NotEnoughData
from tasks.platform.store import Store

SHOWN_BATCHES = 5
CHECKS_LOOKBACK = timedelta(days=30)  # drift episodes of interest are younger: confirmed within a few batches


def write_batch(store: Store, meta: BatchMeta, data: pl.DataFrame | bytes) -> BatchMeta:
    """Write a validated batch (the frame, or parquet bytes that hold exactly it) and its metadata, each at most
    once; return the metadata that stands: this call's if it wrote it, else the first writer's (read back only then)."""
    body = data if isinstance(data, bytes) else parquet_bytes(data)
    store.put_if_absent(batch_key(meta.dataset, meta.batch_id), body)
    key = meta_key(meta.dataset, meta.batch_id)
    first = meta if store.put_if_absent(key, json_bytes(meta.model_dump(mode="json"))) else None
    first = first or BatchMeta.model_validate(store.get_json(key))
    index_batch(store, first)
    return first


def read_meta(store: Store, dataset: str, batch_id: str) -> BatchMeta:
    return BatchMeta.model_validate(store.get_json(meta_key(dataset, batch_id)))


def read_batch(store: Store, dataset: str, batch_id: str) -> pl.DataFrame:
    return store.read_parquet(batch_key(dataset, batch_id))


def read_batches(
    store: Store, dataset: str, batch_ids: Iterable[str], columns: Collection[str] | None = None
) -> Iterator[tuple[str, pl.DataFrame]]:
    """The batches one at a time, in the order given (only `columns` of them, when given): a window of any length
    holds one batch's frame at a time."""
    for batch_id in batch_ids:
        yield batch_id, store.read_parquet(batch_key(dataset, batch_id), columns)


def resolve_batch(store: Store, dataset: str, batch_id: str, purpose: str) -> str:
    """`batch_id` if the lake holds it, or the newest validated batch when none is named; an unknown id is a
    ConfigurationError that names the newest batch ids there are."""
    if batch_id:
        if store.exists(meta_key(dataset, batch_id)):
            return batch_id
        newest = ", ".join(newest_batch_ids(store, dataset)) or "none yet"
        raise ConfigurationError(f"batch {batch_id!r} of {dataset!r} is not in the lake; the newest batches: {newest}")
    batches = recent_batches(store, dataset)
    if not batches:
        raise NotEnoughData(f"{dataset}: no validated batch to {purpose}; land data and run `ingest` first")
    return batches[-1].batch_id


def newest_batch_ids(store: Store, dataset: str, count: int = SHOWN_BATCHES) -> list[str]:
    """The ids of the newest batches, newest first."""
    return [meta.batch_id for meta in reversed(newest_batches(store, dataset, count))]


def newest_batches(store: Store, dataset: str, count: int) -> list[BatchMeta]:
    """The metadata of the `count` newest batches, oldest first, from the index head."""
    return recent_batches(store, dataset)[-count:] if count > 0 else []


def check_marks(
    store: Store, dataset: str, model: str, tenure: int, around: datetime | None = None
) -> dict[str, datetime]:
    """The tenure's check marks (key -> when written) of batches ingested from CHECKS_LOOKBACK before `around` (by
    default, the newest batch's ingest) on: a page or two however long the champion has served. All of them when the
    oldest of those is not quiet, since its episode may have begun before (a mark's key starts with its batch's ingest
    time)."""
    prefix = checks_prefix(dataset, model, tenure)
    if around is None:
        newest = newest_batches(store, dataset, 1)
        if not newest:
            return {}
        around = newest[0].ingested_at
    marks = store.list_modified(prefix, start_after=f"{prefix}{around - CHECKS_LOOKBACK:%Y%m%dT%H%M%S%f}")
    if marks and not min(marks).endswith(".quiet"):
        return store.list_modified(prefix)
    return marks
