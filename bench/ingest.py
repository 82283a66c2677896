"""Benchmark: the real ingest flow (S3 read, contract validation, lake write, ledger, event) on a 1M-row batch vs a
plain polars read + Pandera validate + parquet write of the same object; and peak RSS of a 10M-row ingest in a child.

Run: `.venv/bin/python -m bench.ingest --scale 0.05` (prints the rows as JSON). Starts the stack's S3 server and a
Prefect test harness; nothing is written to the working directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any, cast

import polars as pl
from prefect.settings import PREFECT_API_URL

from bench.local_services import blocks_on_local_services
from bench.memory import child_or_run, peak_rss_mb
from blocks.register import demo_dataset
from blocks.settings import Settings, process_environment
from flows.ingest import ingest
from tasks.contracts.credit import CreditApplication, generate
from tasks.data.ingest import IngestOutcome
from tasks.platform.codec import parquet_bytes
from tasks.platform.config import load_dataset
from tasks.platform.store import Store, forget_clients

CHUNK_ROWS = 1_000_000  # generate() builds Python lists; chunks keep the generator's own memory bounded


def _frame(rows: int) -> pl.DataFrame:
    chunks = [
        generate(min(CHUNK_ROWS, rows - i), seed=1000 + i // CHUNK_ROWS, start=datetime(2026, 1, 1))
        for i in range(0, rows, CHUNK_ROWS)
    ]
    return pl.concat(chunks)


def _land(store: Store, dataset: str, rows: int) -> str:
    key = f"landing/{dataset}/bench-{rows}.parquet"
    store.put(key, parquet_bytes(_frame(rows)))
    return key


def _new_dataset() -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    demo_dataset().save(name, overwrite=True)
    return name


def _real(dataset: str, key: str) -> float:
    forget_clients()  # the flow builds its own S3 client, as in a fresh worker process, not the one landing used
    started = time.perf_counter()
    state = ingest(dataset=dataset, key=key, return_state=True)
    elapsed = time.perf_counter() - started
    outcomes = cast(list[IngestOutcome], state.result())  # the flow's own state: its data
    assert [o.outcome for o in outcomes] == ["ingested"], outcomes
    return elapsed


def _baseline(store: Store, key: str) -> float:
    started = time.perf_counter()
    frame = pl.read_parquet(store.uri(key), storage_options=store.storage_options)
    validated = CreditApplication.validate(frame, lazy=True)
    validated.write_parquet(
        store.uri(f"bench-baseline/{uuid.uuid4().hex}.parquet"), storage_options=store.storage_options
    )
    return time.perf_counter() - started


def _child_rss(rows: int) -> tuple[float, float]:
    """Land `rows` here, ingest them in a child process; return (child seconds, child peak RSS in MB)."""
    dataset = _new_dataset()
    key = _land(load_dataset(dataset).store, dataset, rows)
    env = process_environment() | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--child", dataset, key],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def _row(name: str, rows: int, seconds: float, target: str, notes: str, **extra: Any) -> dict[str, Any]:
    row = {
        "benchmark": name,
        "rows": rows,
        "seconds": round(seconds, 3),
        "baseline_seconds": None,
        "ratio": None,
        "target": target,
        "peak_rss_mb": None,
        "notes": notes,
    }
    return row | extra


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    with blocks_on_local_services() as settings:
        return _measure(settings, scale)


def _measure(settings: Settings, scale: float) -> list[dict[str, Any]]:
    rows = max(1000, int(1_000_000 * scale))
    dataset = _new_dataset()
    store = load_dataset(dataset).store
    store.client.create_bucket(Bucket=settings.bucket)
    key = _land(store, dataset, rows)
    baseline = min(_baseline(store, key) for _ in range(2))
    real = _real(dataset, key)
    big = max(1000, int(10_000_000 * scale))
    child_seconds, rss = _child_rss(big)
    return [
        _row(
            "ingest-1m-wall",
            rows,
            real,
            "ratio <= 2.0",
            "ingest flow vs polars read + pandera validate + write",
            baseline_seconds=round(baseline, 3),
            ratio=round(real / baseline, 3),
        ),
        _row(
            "ingest-10m-peak-rss",
            big,
            child_seconds,
            "peak_rss_mb < 4096",
            "ingest flow in a child process (includes interpreter + prefect import)",
            peak_rss_mb=round(rss, 1),
        ),
    ]


def _child(dataset: str, key: str) -> None:
    _real(dataset, key)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    child_or_run(__doc__, run, _child, ("DATASET", "KEY"))


if __name__ == "__main__":
    main()
