"""Training benchmark: the real `train` flow on a 1M-row window vs a plain script doing the same steps without Prefect.

Target: the flow takes at most 1.10x the wall time of the plain script. Both run in this process against the same
services: the stack's S3 server holding the lake, an MLflow server on SQLite proxying artifacts into that bucket, and a
Prefect test harness for the flow. The plain script calls the very same task bodies (`Task.fn`): plan the window from
the lake, read and split it, fit the mapping and the booster, score the holdout, profile the reference, log and
register the version with its `challenger` alias. It skips only what exists because of Prefect: loading the blocks
through the API, the flow and task runs, the `model.registered` event and the table artifact. The two paths run
alternately (baseline, flow, three times) and the minimum of each is kept, to dampen noise on a shared machine;
one untimed run of each on a small separate dataset first takes the process's one-time costs out of the timings.

Run: `.venv/bin/python -m bench.training --scale 0.02` (prints the row as JSON), or `python -m bench --only training`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bench.local_services import blocks_on_local_services
from blocks.register import demo_dataset
from blocks.settings import Settings
from flows.train import train
from tasks.contracts.credit import generate
from tasks.data.ingest import batch_meta
from tasks.data.lake import batch_id_for
from tasks.data.lake_io import write_batch
from tasks.model.records import ChallengerRecord
from tasks.model.registry import client_for
from tasks.model.steps.train import fit_challenger, plan_training, register_challenger
from tasks.model.window import WindowPlan
from tasks.platform.codec import parquet_bytes, sha256
from tasks.platform.config import DatasetConfig, load_dataset

ROWS = 1_000_000
MIN_ROWS = 20_000  # below this the 4000-row holdout is most of the window
BATCHES = 10  # 100k-row batches at full scale; the dataset block's window covers all of them
REPEATS = 3  # alternating pairs; the minimum of each path is reported (two left the ratio at the mercy of noise)
START = datetime(2024, 1, 1)
INGESTED = datetime(2024, 1, 1, tzinfo=UTC)
COMPARED = ("val_auc", "holdout_auc", "best_iteration", "train_rows", "holdout_rows", "reference_rows")


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    rows = max(int(ROWS * scale), MIN_ROWS)
    with blocks_on_local_services(mlflow=True) as settings:
        return [_measure(settings, rows)]


def _measure(settings: Settings, rows: int) -> dict[str, Any]:
    warm = new_dataset("bench-train")
    warm.store.client.create_bucket(Bucket=settings.bucket)
    land(warm, MIN_ROWS)
    _baseline(warm)  # one-time costs (lazy imports, first MLflow model log, first flow run) stay out of the timings
    _flow(warm.name)
    cfg = new_dataset("bench-train")
    land(cfg, rows)
    baseline: list[float] = []
    flow: list[float] = []
    versions: list[str] = []
    for _ in range(REPEATS):
        seconds, version = _baseline(cfg)
        baseline.append(seconds)
        versions.append(version)
        seconds, version = _flow(cfg.name)
        flow.append(seconds)
        versions.append(version)
    metrics = _run_metrics(cfg, versions)
    identical = all(m == metrics[0] for m in metrics)
    fastest, plain = min(flow), min(baseline)
    return {
        "benchmark": "training-1m-wall",
        "rows": rows,
        "seconds": round(fastest, 3),
        "baseline_seconds": round(plain, 3),
        "ratio": round(fastest / plain, 3),
        "target": "ratio <= 1.10",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "notes": (
            f"train flow vs the same task bodies via .fn without Prefect; {BATCHES} batches, "
            f"{int(metrics[0]['train_rows']):,} training rows, {int(metrics[0]['best_iteration'])} rounds; "
            f"min of {REPEATS} alternating runs after a small warm-up "
            f"(flow s {_list(flow)}, baseline s {_list(baseline)}); "
            f"same model from every run: {identical}; peak RSS of this process, data generation included"
        ),
    }


def new_dataset(prefix: str, batches: int = BATCHES) -> DatasetConfig:
    """A fresh demo dataset block whose training window covers the `batches` batches a benchmark lands."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    spec = demo_dataset()
    spec.model_name = f"credit-risk-{name}"
    spec.train_batches = batches
    spec.save(name, overwrite=True)
    return load_dataset(name)


def land(cfg: DatasetConfig, rows: int, batches: int = BATCHES, ingested: datetime = INGESTED) -> None:
    """Write `rows` rows as `batches` validated batches straight into the lake, oldest first, ingested a minute apart
    from `ingested` on."""
    per_batch = rows // batches
    for seed in range(batches):
        frame = generate(per_batch, seed, START + timedelta(days=seed))
        body = parquet_bytes(frame)
        digest = sha256(body)
        key = f"landing/{cfg.name}/bench-{seed}.parquet"
        at = ingested + timedelta(minutes=seed)
        write_batch(cfg.store, batch_meta(cfg.name, key, digest, batch_id_for(digest), frame, cfg.columns, at), body)


def _baseline(template: DatasetConfig) -> tuple[float, str]:
    """The flow's steps as a plain script: the undecorated task bodies, in the flow's order."""
    started = time.perf_counter()
    cfg = dataclasses.replace(template)  # a fresh store client, as the flow's load_dataset makes; no API call
    plan: WindowPlan = plan_training.fn(cfg, "")
    record: ChallengerRecord = fit_challenger.fn(cfg, plan, "")
    version: str = register_challenger.fn(cfg, record)
    return time.perf_counter() - started, version


def _flow(dataset: str) -> tuple[float, str]:
    started = time.perf_counter()
    version = cast(str, train(dataset=dataset))  # a flow that returns a state hands its caller the state's data
    return time.perf_counter() - started, version


def _run_metrics(cfg: DatasetConfig, versions: list[str]) -> list[dict[str, float]]:
    """The compared metrics of each version's run: equal when both paths trained the same model."""
    client = client_for(cfg)
    runs = [client.get_model_version(cfg.model_name, v).run_id for v in versions]
    return [{k: client.get_run(r).data.metrics[k] for k in COMPARED} for r in runs if r]


def _list(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    print(json.dumps(run(parser.parse_args().scale), indent=2))
