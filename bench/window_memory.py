"""Window memory benchmark: the train flow's planning and fitting steps on a 20M-row window, peak RSS in a child.

Target: a 20M-row training window trains within 8 GB peak RSS. The lake holds 100 batches of 200k rows in the stack's
own S3 server; a child process runs the train flow's task bodies (`plan_training`, `fit_challenger`) as the flow
would: the window is planned from the lake's index head and read a batch at a time (a categories pass over the text
columns, then a pass that encodes each batch into the training matrices and keeps the holdout and the reference
sample). The child reports its own high-water mark (VmHWM), so the parent's generated frames are not counted.

Run: `.venv/bin/python -m bench.window_memory --scale 0.05` (prints the row as JSON), or
`python -m bench --only window_memory`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from prefect.settings import PREFECT_API_URL, temporary_settings

from bench.local_services import blocks_on_local_services
from bench.memory import child_or_run, peak_rss_mb
from bench.training import land, new_dataset
from tasks.model.steps.train import fit_challenger, plan_training
from tasks.model.window import WindowPlan
from tasks.platform.config import load_dataset

ROWS = 20_000_000
BATCHES = 100
RSS_TARGET_MB = 8192


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    rows = max(int(ROWS * scale), BATCHES * 1000)
    with blocks_on_local_services() as settings:
        cfg = new_dataset("bench-window", BATCHES)
        cfg.store.client.create_bucket(Bucket=settings.bucket)
        started = time.perf_counter()
        land(cfg, rows, BATCHES)
        landed = time.perf_counter() - started
        child = _child_run(cfg.name, str(PREFECT_API_URL.value()))
    return [_row(rows, landed, child)]


def _child_run(dataset: str, api_url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.window_memory", "--child", dataset, api_url],
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(rows: int, landed: float, child: dict[str, Any]) -> dict[str, Any]:
    notes = (
        f"{BATCHES} batches of {rows // BATCHES:,} rows in the stack's S3 server (landed in {landed:.0f} s); child: "
        f"python + imports {child['rss_imports_mb']:.0f} MB, plan {child['plan_seconds']:.1f} s, read + fit + "
        f"holdout + reference {child['fit_seconds']:.0f} s, {child['train_rows']:,} training rows, "
        f"{child['rounds']} rounds; peak = VmHWM of the child"
    )
    return {
        "benchmark": "training-20m-window-peak-rss",
        "rows": rows,
        "seconds": round(child["fit_seconds"], 1),
        "baseline_seconds": None,
        "ratio": None,
        "target": f"peak RSS < {RSS_TARGET_MB} MB",
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "notes": notes,
    }


def _child(dataset: str, api_url: str) -> None:
    """The train flow's plan and fit task bodies on `dataset`; prints one JSON line of timings and peak RSS."""
    rss_imports = peak_rss_mb()
    with temporary_settings({PREFECT_API_URL: api_url}):
        cfg = load_dataset(dataset)
    started = time.perf_counter()
    plan: WindowPlan = plan_training.fn(cfg, "")
    planned = time.perf_counter()
    record = fit_challenger.fn(cfg, plan, "")
    record_json = {
        "rss_imports_mb": rss_imports,
        "plan_seconds": planned - started,
        "fit_seconds": time.perf_counter() - planned,
        "train_rows": int(record.metrics["train_rows"]),
        "rounds": int(record.metrics["best_iteration"]),
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(record_json))


def main() -> None:
    child_or_run(__doc__, run, _child, ("DATASET", "API_URL"))


if __name__ == "__main__":
    main()
