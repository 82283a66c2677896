"""Growth benchmark: what each run reads of the history costs with 100 and with 10,000 batches in the lake.

Target (issue "Cost that does not grow with history"): at 10,000 batches each run's wall time and S3 request count
is at most 1.2x its figure at 100. Measured here are the reads through which a run meets the history: the training
window plan (index head), the newest batch for score and monitor without a batch id, the champion history as
promote, score and monitor read it, the retrain budget, and the scheduled ingest's discovery of open objects. The
rest of each run (reading its own batch, fitting, scoring) depends on the batch, not on the history. The larger lake
is metadata only (meta.json, ledger and landing objects, history records, attempt markers), as the issue allows.
Requests are counted on the boto3 client the store uses; wall time is the median of five runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.local_services import blocks_on_local_services
from blocks.register import demo_dataset
from tasks.data import lake_index, lake_io
from tasks.data.lake import BatchMeta, landing_prefix, ledger_key, meta_key
from tasks.data.steps.pending import open_landed
from tasks.model import attempts, history
from tasks.model.champions import HistoryRecord
from tasks.model.window import plan_window
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig, load_dataset

SIZES = (100, 10_000)
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)  # newest batch: an hour ago
REPEATS = 5


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    with blocks_on_local_services() as settings:
        load_dataset(demo_dataset_named("growth-100")).store.client.create_bucket(Bucket=settings.bucket)
        sizes = [max(10, int(size * scale)) for size in SIZES]
        return rows(sizes, [measure(lake_of(size)) for size in sizes])


def demo_dataset_named(name: str) -> str:
    spec = demo_dataset()
    spec.model_name = f"model-{name}"
    spec.save(name, overwrite=True)
    return name


def lake_of(batches: int, new_object: bool = True) -> DatasetConfig:
    """A dataset whose lake holds `batches` batches (metadata only), each landed and ledgered, a champion history of
    one record per 20 batches and an attempt marker per 20 batches, the newest within the budget period; with
    `new_object`, one more landed object (a placeholder) that the next sweep finds."""
    cfg = load_dataset(demo_dataset_named(f"growth-{batches}"))
    store, name = cfg.store, cfg.name
    for i in range(batches):
        meta = BatchMeta(
            dataset=name,
            batch_id=f"b{i:06d}",
            source_key=f"{landing_prefix(name)}{i:06d}.parquet",
            sha256=f"{i:064d}",
            rows=5000,
            labelled_rows=4000,
            ingested_at=NOW - timedelta(hours=batches - i),
        )
        store.put(meta_key(name, meta.batch_id), json_bytes(meta.model_dump(mode="json")))
        store.put(meta.source_key, b"landed")
        store.put(ledger_key(name, meta.source_key), json_bytes({"outcome": "ingested"}))
    for n in range(1, batches // 20 + 1):
        _record(cfg, n)
        started = int((NOW - timedelta(hours=batches // 20 - n)).timestamp())
        store.put(f"{attempts.attempts_prefix(cfg.model_name)}{started:012d}-{n}-1", b"")
    lake_index.reindex(store, name)
    history.read_recent(cfg)  # writes the head, as the first read after an upgrade does
    open_landed(store, name, NOW)  # the first sweep is a full one; the measured one starts at its watermark
    if new_object:
        store.put(f"{landing_prefix(name)}{batches:06d}.parquet", b"landed")
    return cfg


def _record(cfg: DatasetConfig, sequence: int) -> None:
    action = "promote" if sequence % 4 == 1 else "reject"
    record = HistoryRecord(
        sequence=sequence,
        dataset=cfg.name,
        model=cfg.model_name,
        action=action,
        from_version=str(sequence - 1) if sequence > 1 else None,
        to_version=str(sequence),
        moved=action == "promote",
        why="bench",
        at=NOW,
        flow_run_id="bench",
        writer=f"bench-{sequence}",
    )
    cfg.store.put(
        f"{history.history_prefix(cfg.model_name)}{sequence:08d}.json", json_bytes(record.model_dump(mode="json"))
    )


def operations(cfg: DatasetConfig) -> dict[str, Callable[[], object]]:
    store, name = cfg.store, cfg.name
    return {
        "train-window-plan": lambda: plan_window(lake_index.recent_batches(store, name), cfg.spec, name),
        "score-monitor-newest-batch": lambda: lake_io.resolve_batch(store, name, "", "score"),
        "champion-history": lambda: history.read_recent(cfg),
        "retrain-budget": lambda: attempts.attempt_starts(store, cfg.model_name, NOW - timedelta(hours=24)),
        "ingest-sweep-discovery": lambda: open_landed(store, name, NOW),
    }


def measure(cfg: DatasetConfig) -> dict[str, tuple[float, int]]:
    """Per operation: the median wall time and the requests of one run."""
    sent = [0]

    def count(**_: object) -> None:
        sent[0] += 1

    cfg.store.client.meta.events.register("before-send.s3", count)
    try:
        result = {}
        for name, operation in operations(cfg).items():
            timings = []
            for _ in range(REPEATS):
                sent[0] = 0
                started = time.perf_counter()
                operation()
                timings.append(time.perf_counter() - started)
            result[name] = (statistics.median(timings), sent[0])
        return result
    finally:
        cfg.store.client.meta.events.unregister("before-send.s3", count)


def rows(
    sizes: list[int], measured: list[dict[str, tuple[float, int]]], prefix: str = "growth"
) -> list[dict[str, Any]]:
    (small, large), (at_small, at_large) = sizes, measured
    out = []
    for name, (seconds, requests) in at_large.items():
        base_seconds, base_requests = at_small[name]
        out.append(
            {
                "benchmark": f"{prefix}-{name}",
                "rows": large,
                "seconds": round(seconds, 4),
                "baseline_seconds": round(base_seconds, 4),
                "ratio": round(seconds / base_seconds, 3),
                "target": "ratio <= 1.2 (wall time and requests, vs the same lake with 100 batches)",
                "peak_rss_mb": None,
                "requests": requests,
                "baseline_requests": base_requests,
                "requests_ratio": round(requests / base_requests, 3),
                "notes": f"{large:,} batches vs {small:,}; requests {requests} vs {base_requests}",
            }
        )
    return out
