"""Growth benchmark of whole runs: `train`, the scheduled `ingest`, `score` and `monitor` with 100 and with 10,000
batches in the lake; each run's wall time and the S3 requests it made.

Target (issue "Cost that does not grow with history"): at 10,000 batches each run's wall time and request count is at
most 1.2x its figure at 100. Requests are counted by the S3 server itself (its Prometheus metrics), so polars' reads
and the artifacts MLflow writes for a run count as much as boto3's calls. The older batches are metadata only, as in
bench.growth (`lake_of`: each batch landed, ledgered and indexed); the newest REAL batches hold data, enough for the
training window and the champion's reference. The model is a new one: the history records `lake_of` writes name
versions MLflow does not hold, and the history's growth is bench.growth's to measure. Set-up, not timed: the lake and
a champion trained on the window and promoted. Then, REPEATS times: a new object lands and `ingest` sweeps the dataset
(as its schedule does), `score` and `monitor` run on the newest batch (no batch id), and `train` trains a challenger.
Each run's median is reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from bench import growth, training
from bench.local_services import blocks_on_local_services
from blocks.settings import Settings
from deployments.stack.s3_server import requests_answered
from flows.ingest import ingest
from flows.monitor import monitor
from flows.promote import promote
from flows.score import score
from flows.train import train
from tasks.contracts.credit import generate
from tasks.data.lake import landing_prefix
from tasks.model.gates import PromotionDecision
from tasks.platform.codec import parquet_bytes
from tasks.platform.config import DatasetConfig, load_dataset

REAL = 10  # the training window is the newest 8; the holdout and reference come from it
ROWS = 5000
REPEATS = 3


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    with blocks_on_local_services(mlflow=True) as settings:
        load_dataset(growth.demo_dataset_named("growth-100")).store.client.create_bucket(Bucket=settings.bucket)
        sizes = [max(REAL + 10, int(size * scale)) for size in growth.SIZES]
        measured = [measure(settings, lake_with_champion(size)) for size in sizes]
        return growth.rows(sizes, measured, prefix="growth-run")


def lake_with_champion(batches: int) -> DatasetConfig:
    """`growth.lake_of(batches)` whose newest REAL batches hold data, with a champion."""
    cfg = growth.lake_of(batches, new_object=False)
    cfg.spec.model_name = f"{cfg.model_name}-runs"
    cfg.spec.save(cfg.name, overwrite=True)
    cfg = load_dataset(cfg.name)
    training.land(cfg, ROWS * REAL, REAL, ingested=growth.NOW)  # newer than every metadata-only batch
    # A flow that returns a state hands its caller the state's data.
    decision = cast(PromotionDecision, promote(dataset=cfg.name, challenger_version=cast(str, train(dataset=cfg.name))))
    assert decision.promoted
    return cfg


def measure(settings: Settings, cfg: DatasetConfig) -> dict[str, tuple[float, int]]:
    """Per run: the median wall time and the median requests of REPEATS runs."""
    timed: dict[str, list[tuple[float, int]]] = {}
    for seed in range(REPEATS):
        new = generate(ROWS, 100 + seed, growth.NOW.replace(tzinfo=None) + timedelta(hours=REAL + seed))
        cfg.store.put(f"{landing_prefix(cfg.name)}new-{seed}.parquet", parquet_bytes(new))
        for name, flow_run in runs(cfg).items():
            timed.setdefault(name, []).append(_counted(settings, flow_run))
    return {name: _medians(samples) for name, samples in timed.items()}


def runs(cfg: DatasetConfig) -> dict[str, Callable[[], object]]:
    return {
        "ingest": lambda: ingest(dataset=cfg.name),
        "score": lambda: score(dataset=cfg.name),
        "monitor": lambda: monitor(dataset=cfg.name),
        "train": lambda: train(dataset=cfg.name),
    }


def _counted(settings: Settings, flow_run: Callable[[], object]) -> tuple[float, int]:
    before = requests_answered(settings)
    started = time.perf_counter()
    flow_run()
    return time.perf_counter() - started, requests_answered(settings) - before


def _medians(samples: list[tuple[float, int]]) -> tuple[float, int]:
    return statistics.median(s for s, _ in samples), int(statistics.median(r for _, r in samples))
