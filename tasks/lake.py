"""The object-store layout (DESIGN §4) and the validated-batch lake: keys, batch metadata, reads and writes."""

from __future__ import annotations

import hashlib
from datetime import datetime

import polars as pl
from pydantic import BaseModel

from tasks.storage import Store, json_bytes, parquet_bytes


class BatchMeta(BaseModel):
    """What the lake knows about one validated batch; written once beside its data."""

    dataset: str
    batch_id: str
    source_key: str
    sha256: str
    rows: int
    labelled_rows: int
    ingested_at: datetime
    event_time_min: datetime | None = None
    event_time_max: datetime | None = None


def landing_prefix(dataset: str) -> str:
    return f"landing/{dataset}/"


def batch_id_for(content_sha256: str) -> str:
    """A batch id derives from the content hash, so the same bytes are one batch wherever they landed."""
    return content_sha256[:20]


def batch_key(dataset: str, batch_id: str) -> str:
    return f"lake/{dataset}/batches/{batch_id}/data.parquet"


def meta_key(dataset: str, batch_id: str) -> str:
    return f"lake/{dataset}/batches/{batch_id}/meta.json"


def ledger_key(dataset: str, source_key: str) -> str:
    return f"lake/{dataset}/ledger/{hashlib.sha256(source_key.encode()).hexdigest()[:32]}.json"


def quarantine_prefix(dataset: str, batch_id: str) -> str:
    return f"quarantine/{dataset}/{batch_id}/"


def predictions_key(dataset: str, model_version: str, batch_id: str) -> str:
    return f"predictions/{dataset}/{model_version}/{batch_id}.parquet"


def report_prefix(dataset: str, kind: str, report_id: str) -> str:
    return f"reports/{dataset}/{kind}/{report_id}/"


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


def read_batch(store: Store, dataset: str, batch_id: str) -> pl.DataFrame:
    return store.read_parquet(batch_key(dataset, batch_id))


def read_batches(store: Store, dataset: str, batch_ids: list[str]) -> pl.DataFrame:
    """Concatenate batches in the given order (row order matters for deterministic training)."""
    return pl.concat([read_batch(store, dataset, b) for b in batch_ids], how="vertical_relaxed")
