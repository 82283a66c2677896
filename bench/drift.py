"""Drift benchmarks: the fast engine (tasks.monitoring.drift) against Evidently's DataDriftPreset on the same 1M-row
frames, and the fast engine's peak RSS on a 10M-row batch in a child process.

Targets: the check of 1M rows x 20 columns (the demo contract: 17 features plus id, event time and target) is at
least 50x faster than Evidently's DataDriftPreset on the same data in the same run; 10M rows stay under 3 GB peak RSS.

The fast engine is timed as the monitor flow uses it: the profile is fitted from the reference once (as training
does), round-tripped through its JSON form (as the registry stores it), and only `check_drift` of the current frame
against it is timed. Evidently gets the same frames converted to pandas, the feature columns only, and the drift
policy's per-column methods and thresholds (as tasks.drift_report configures it); its timed part is
`Dataset.from_pandas` + `Report.run` + `Snapshot.dict()`. The per-column verdicts of both are compared in the notes.

Run: `.venv/bin/python -m bench.drift --scale 0.01` (prints the rows as JSON). Writes only to a temporary directory.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from bench.drift_compare import agreement, time_evidently, time_fast
from bench.memory import child_or_run, peak_rss_mb
from blocks.models import DriftPolicy
from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.monitoring.drift import DriftProfile, check_drift
from tasks.platform.contract import Columns, columns_of

ROWS = 1_000_000
BIG_ROWS = 10_000_000
MIN_ROWS = 1000
CHUNK = 100_000  # generate() builds Python lists (ids, timestamps): chunks keep its own memory bounded
START = datetime(2024, 1, 1)
REFERENCE_SEED = 0
CURRENT_SEED = 1_000_000
BIG_SEED = 2_000_000
SHIFT = 0.5  # a half recession: some features drift, some do not, so both verdicts are exercised
REPEATS = 3  # the fast check is repeated and the median reported; Evidently runs once
RATIO_TARGET = 50.0
RSS_TARGET_MB = 3072.0
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _frame(rows: int, seed: int, shift: float) -> pl.DataFrame:
    """`rows` applications in CHUNK-row pieces, each piece with its own seed."""
    chunks = [
        generate(min(CHUNK, rows - s), seed=seed + s // CHUNK, start=START, shift=shift) for s in range(0, rows, CHUNK)
    ]
    return pl.concat(chunks)


def _load() -> str:
    """The 1-minute load average: other work on a 2-core machine moves every timing here."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _versus_evidently(rows: int, columns: Columns, policy: DriftPolicy) -> tuple[dict[str, Any], DriftProfile]:
    reference = _frame(rows, REFERENCE_SEED, 0.0)
    current = _frame(rows, CURRENT_SEED, SHIFT)
    verdict, timings, profile_seconds, profile = time_fast(reference, current, columns, policy, REPEATS)
    seconds = statistics.median(timings)
    features = list(columns.features)
    started = time.perf_counter()
    reference_pd = reference.select(features).to_pandas()
    current_pd = current.select(features).to_pandas()
    convert_seconds = time.perf_counter() - started
    del reference, current
    theirs, run_seconds, dict_seconds = time_evidently(reference_pd, current_pd, columns, policy)
    baseline = run_seconds + dict_seconds
    notes = (
        f"current = shift {SHIFT}, other seeds; {len(features)} features ({len(columns.numeric)} numeric "
        f"{policy.numeric_method} >= {policy.method_threshold(policy.numeric_method)}, {len(columns.categorical)} "
        f"categorical {policy.categorical_method} >= {policy.method_threshold(policy.categorical_method)}), "
        "no predictions/labels; "
        f"fast = median of {REPEATS} check_drift runs (min {min(timings):.3f} s, max {max(timings):.3f} s), "
        f"profile fitted once from the reference in {profile_seconds:.3f} s (not timed); "
        f"evidently = DataDriftPreset on the same rows, Dataset.from_pandas + Report.run {run_seconds:.1f} s + "
        f"Snapshot.dict {dict_seconds:.2f} s (polars->pandas {convert_seconds:.2f} s not timed); "
        f"engine drift share {verdict.drift_share:.2f}; {agreement(verdict, theirs)}; "
        "peak RSS = this process's peak so far (includes Evidently on pandas); "
        f"load average {_load()}"
    )
    row = {
        "benchmark": "drift-check-vs-evidently-preset",
        "rows": rows,
        "seconds": round(seconds, 3),
        "baseline_seconds": round(baseline, 3),
        "ratio": round(baseline / seconds, 1),
        "target": f"ratio >= {RATIO_TARGET:g}",
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "notes": notes,
    }
    return row, profile


def _write_batch(path: Path, rows: int) -> None:
    """Write `rows` shifted applications to one parquet file, one chunk at a time (the parent never holds them)."""
    writer: pq.ParquetWriter | None = None
    try:
        for s in range(0, rows, CHUNK):
            table = generate(min(CHUNK, rows - s), seed=BIG_SEED + s // CHUNK, start=START, shift=SHIFT).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _big_batch(rows: int, profile: DriftProfile) -> dict[str, Any]:
    """Check `rows` rows in a child process that reads the batch and the stored profile as the monitor flow does."""
    with tempfile.TemporaryDirectory() as scratch:
        batch, profile_path = Path(scratch) / "batch.parquet", Path(scratch) / "profile.json"
        _write_batch(batch, rows)
        profile_path.write_text(profile.model_dump_json())
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.drift", "--child", str(batch), str(profile_path)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )
        wall = time.perf_counter() - started
    child = json.loads(done.stdout.strip().splitlines()[-1])
    peak = float(child["peak_rss_mb"])
    notes = (
        f"child process: python + imports {child['rss_imports_mb']:.0f} MB, after reading the batch parquet "
        f"{child['rss_read_mb']:.0f} MB (frame {child['frame_mb']:.0f} MB, read {child['read_seconds']:.1f} s), "
        f"peak after check_drift {peak:.0f} MB (VmHWM of the child); check {child['check_seconds']:.2f} s, "
        f"child wall {wall:.1f} s; profile fitted from the benchmark's reference; "
        f"{child['drifted_columns']} drifted columns; load average {_load()}"
    )
    return {
        "benchmark": "drift-check-10m-peak-rss",
        "rows": rows,
        "seconds": round(float(child["check_seconds"]), 3),
        "baseline_seconds": None,
        "ratio": None,
        "target": f"peak RSS < {RSS_TARGET_MB:g} MB",
        "peak_rss_mb": round(peak, 1),
        "notes": notes,
    }


def _child(batch: str, profile_path: str) -> None:
    """The monitor's check on a stored batch; prints one JSON line of timings and RSS checkpoints."""
    rss_imports = peak_rss_mb()
    profile = DriftProfile.model_validate_json(Path(profile_path).read_text())
    started = time.perf_counter()
    frame = pl.read_parquet(batch)
    read_seconds = time.perf_counter() - started
    rss_read = peak_rss_mb()
    started = time.perf_counter()
    verdict = check_drift(frame, profile, DriftPolicy())
    check_seconds = time.perf_counter() - started
    record = {
        "rows": frame.height,
        "frame_mb": frame.estimated_size() / 2**20,
        "rss_imports_mb": rss_imports,
        "rss_read_mb": rss_read,
        "peak_rss_mb": peak_rss_mb(),
        "read_seconds": read_seconds,
        "check_seconds": check_seconds,
        "drifted_columns": len(verdict.drifted_columns),
    }
    print(json.dumps(record))


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    columns = columns_of(demo_dataset())
    policy = DriftPolicy()
    rows = max(int(ROWS * scale), MIN_ROWS)
    versus, profile = _versus_evidently(rows, columns, policy)
    big = _big_batch(max(int(BIG_ROWS * scale), MIN_ROWS), profile)
    return [versus, big]


def main() -> None:
    child_or_run(__doc__, run, _child, ("BATCH", "PROFILE"))


if __name__ == "__main__":
    main()
