"""Scoring benchmark: 1M rows through the champion path (encode + predict) vs a bare Booster.predict.

Target (DESIGN §6): the champion path reaches at least 0.8x the throughput of `Booster.predict` on the already
encoded matrix. Both run in this process on the same rows with the same booster.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

import polars as pl
import psutil

from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.model.features import encode, fit_mapping
from tasks.model.records import LoadedModel
from tasks.model.scoring import predict
from tasks.model.training import fit_booster
from tasks.model.window_rows import training_set
from tasks.platform.contract import columns_of

ROWS = 1_000_000
TRAIN_ROWS = 50_000
CHUNK = 100_000


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    columns = columns_of(demo_dataset())
    rows = max(int(ROWS * scale), 1000)
    frame = pl.concat(
        [generate(min(CHUNK, rows - s), seed=s, start=datetime(2024, 1, 1)) for s in range(0, rows, CHUNK)]
    )
    train = generate(TRAIN_ROWS, seed=99, start=datetime(2024, 1, 1))
    mapping = fit_mapping(train, columns)
    model = LoadedModel(
        version="bench",
        booster=fit_booster(training_set(train, columns, mapping), columns, mapping),
        mapping=mapping,
        run_id="",
    )
    matrix = encode(frame, columns, mapping)
    started = time.perf_counter()
    model.booster.predict(matrix)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    predict(model, frame, columns)
    seconds = time.perf_counter() - started
    return [
        {
            "benchmark": "scoring-champion-path",
            "rows": rows,
            "seconds": seconds,
            "baseline_seconds": baseline,
            "ratio": baseline / seconds,
            "target": "ratio (throughput vs bare Booster.predict) >= 0.8",
            "peak_rss_mb": psutil.Process().memory_info().rss / 2**20,
            "notes": f"{model.booster.num_trees()} trees; path = polars encode + predict; rss is current, not peak",
        }
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    print(json.dumps(run(parser.parse_args().scale), indent=2))
