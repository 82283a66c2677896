"""Validated batches written straight into the lake, for flow tests that start after ingest (ingest has its own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.contracts import credit
from tasks.contracts.credit import generate
from tasks.data.ingest import batch_meta
from tasks.data.lake import batch_id_for
from tasks.data.lake_io import write_batch
from tasks.platform.codec import parquet_bytes, sha256
from tasks.platform.config import DatasetConfig

START = datetime(2024, 1, 1, tzinfo=UTC)


def write_validated(
    cfg: DatasetConfig, seed: int, rows: int, shift: float = 0.0, concept: bool = False, segment: bool = False
) -> str:
    """One labelled batch of the demo dataset, ingested `seed` hours after START (so seeds order the lake); its id.
    With `segment`, the rows come from one segment of the population only (see `credit.segment`)."""
    start = datetime(2024, 1, 1) + timedelta(days=seed)
    frame = generate(rows * 10 if segment else rows, seed, start, shift=shift, concept=concept)
    frame = credit.segment(frame).head(rows) if segment else frame
    digest = sha256(parquet_bytes(frame))
    key = f"landing/{cfg.name}/batch-{seed}.parquet"
    meta = batch_meta(cfg.name, key, digest, batch_id_for(digest), frame, cfg.columns, START + timedelta(hours=seed))
    write_batch(cfg.store, meta, frame)
    return meta.batch_id
