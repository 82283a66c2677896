"""Model server benchmark: driftloop's server against `mlflow models serve`, same champion, one worker process each,
the same load generator (`hey`, 8 concurrent clients), 1-record and 100-record requests.

Ours validates every request against the dataset's contract; MLflow's takes the encoded feature matrix and checks
only its signature. Ours runs with the online log off and with the log on and shadow scoring (the default
micro-batches), 45 s each so that micro-batches land within a logged run, in pairs: a quiet run, then a logged one,
back to back. The loss is judged by the median of the pairs' ratios: between two pairs the machine's speed moved by
more than the 5% judged, within a pair it moves little. Before each quiet run the lander lands everything the logged
run before it left, so the quiet run does not pay for the logged one's micro-batches. Targets (issue "Serving
plane"): at least 10x MLflow's requests per second on 1-record requests and 3x on 100-record ones, p99 at most a
fifth of MLflow's, and at most 5% of throughput lost to the online log and shadow scoring.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
from prefect.settings import get_current_settings

from bench.local_services import blocks_on_local_services
from bench.serving_pairs import CLIENTS, Pair, Server, load, median_pair, wait
from blocks import names
from blocks.settings import Settings
from deployments.stack import model_server, services
from deployments.stack.environment import driftloop_variables, stack_environment
from deployments.stack.state import load_or_create_credentials
from flows.promote import promote
from flows.train import train
from tasks.contracts.credit import generate
from tasks.data.ingest import batch_meta
from tasks.data.lake import batch_id_for
from tasks.data.lake_io import write_batch
from tasks.model.features import encode
from tasks.model.registry import load_model
from tasks.platform.codec import parquet_bytes, sha256
from tasks.platform.config import DatasetConfig, load_dataset

SECONDS = 15
LOGGED_SECONDS = 45  # long enough for a default micro-batch (50,000 rows) to land at least once within the run
PAIRS = 3  # per size, of a quiet and a logged run; odd, so that the median is one pair's
REFRESH_SECONDS = 5.0  # the server re-reads the serving policy this often: each switch of it waits at most this
SIZES = (1, 100)


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    hey = shutil.which("hey")
    if hey is None:
        raise SystemExit("bench.serving needs `hey` (Debian/Ubuntu: apt-get install hey); `make bench` installs it")
    seconds, long = max(3, round(SECONDS * scale)), max(3, round(LOGGED_SECONDS * scale))
    with blocks_on_local_services(mlflow=True) as settings:
        dataset = load_dataset(names.DEMO_DATASET)
        dataset.store.client.create_bucket(Bucket=settings.bucket)
        cfg = champion_and_challenger(dataset)
        bodies = request_bodies(cfg)
        with ours(settings) as url:
            server = Server(url, token(settings), cfg)
            pairs: dict[int, list[Pair]] = {n: [] for n in SIZES}
            for _ in range(PAIRS):  # sizes alternate, so a slow minute of the machine does not fall on one only
                for n in SIZES:
                    pairs[n].append(server.pair(hey, bodies[n]["ours"], long))
        with mlflow_served(settings, cfg) as url:
            theirs = {n: load(hey, url, bodies[n]["mlflow"], seconds) for n in SIZES}
    return rows(pairs, theirs)


def champion_and_challenger(cfg: DatasetConfig) -> DatasetConfig:
    """Six labelled batches in the lake, v1 trained and promoted (the champion), v2 trained (the challenger)."""
    for seed in range(6):
        frame = generate(4000, seed, datetime(2024, 1, 1) + timedelta(days=seed))
        digest = sha256(parquet_bytes(frame))
        meta = batch_meta(
            cfg.name,
            f"landing/{cfg.name}/{seed}.parquet",
            digest,
            batch_id_for(digest),
            frame,
            cfg.columns,
            datetime(2024, 1, 1) + timedelta(hours=seed),
        )
        write_batch(cfg.store, meta, frame)
    promote(dataset=cfg.name, challenger_version=cast(str, train(dataset=cfg.name)))  # a flow's state: its data
    train(dataset=cfg.name)
    return cfg


def request_bodies(cfg: DatasetConfig) -> dict[int, dict[str, Path]]:
    """Per size, a body file for each server: the same applicants, as records (ours) and as the encoded feature
    matrix MLflow's pyfunc takes (`dataframe_split`)."""
    folder = Path(tempfile.mkdtemp(prefix="driftloop-bench-"))
    model = load_model(cfg, "1")
    bodies: dict[int, dict[str, Path]] = {}
    for size in SIZES:
        frame = generate(size, 77, datetime(2024, 2, 1)).drop(cfg.columns.target)
        records = orjson.loads(orjson.dumps(frame.to_dicts()))
        matrix = encode(frame, cfg.columns, model.mapping)
        split = {"dataframe_split": {"columns": list(cfg.columns.features), "data": matrix.tolist()}}
        bodies[size] = {"ours": folder / f"ours-{size}.json", "mlflow": folder / f"mlflow-{size}.json"}
        bodies[size]["ours"].write_bytes(orjson.dumps({"records": records}))
        bodies[size]["mlflow"].write_bytes(orjson.dumps(split).replace(b"NaN", b"null"))
    return bodies


def token(settings: Settings) -> str:
    return load_or_create_credentials(settings.home).serve_token


@contextmanager
def ours(settings: Settings) -> Iterator[str]:
    port = services.free_port()
    served = settings.model_copy(update={"serve_port": port, "serve_refresh_seconds": REFRESH_SECONDS})
    service = model_server.service(served)
    env = stack_environment(settings) | driftloop_variables(served)
    env |= {"PREFECT_API_URL": str(get_current_settings().api.url)}
    env.pop("PREFECT_API_AUTH_STRING", None)  # the benchmark's Prefect is an open test server
    process = services.start(service, env)
    try:
        services.wait_healthy(service, process)
        url = f"http://127.0.0.1:{port}/v1/datasets/{names.DEMO_DATASET}/predict"
        wait(lambda: httpx.get(f"http://127.0.0.1:{port}/ready").json()["ready"])
        yield url
    finally:
        services.stop(process, service.stop_seconds)


@contextmanager
def mlflow_served(settings: Settings, cfg: DatasetConfig) -> Iterator[str]:
    port = services.free_port()
    command = [str(services.BIN / "mlflow"), "models", "serve", "-m", f"models:/{cfg.model_name}@champion"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (settings.home / "logs" / "mlflow-serve.log").open("ab")
    process = subprocess.Popen(command, env=stack_environment(settings), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait(lambda: httpx.get(f"http://127.0.0.1:{port}/ping").status_code == 200, 180)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        process.terminate()
        process.wait(30)


def rows(pairs: dict[int, list[Pair]], theirs: dict[int, Any]) -> list[dict[str, Any]]:
    targets = {1: ">= 10 (requests/s ours / mlflow); p99 <= 1/5 of mlflow's", 100: ">= 3; p99 <= 1/5 of mlflow's"}
    logging = ">= 0.95 (requests/s with the online log and shadow on / off; median of the pairs)"
    found = []
    for size in SIZES:
        name = f"serving-{size}-record{'s' if size > 1 else ''}"
        middle = median_pair(pairs[size])
        found.append(_row(name, size, middle.quiet, theirs[size], targets[size], "mlflow models serve"))
        row = _row(f"{name}-log-and-shadow", size, middle.logged, middle.quiet, logging, "log and shadow off")
        row["notes"] += "; ratios of the pairs: " + ", ".join(f"{pair.ratio:.3f}" for pair in pairs[size])
        found.append(row)
    return found


def _row(
    name: str, size: int, mine: dict[str, float], other: dict[str, float], target: str, named: str
) -> dict[str, Any]:
    """Seconds are per request (1 / requests per second), so `ratio` is ours over the baseline's requests/s."""
    return {
        "benchmark": name,
        "rows": size,
        "seconds": 1 / mine["rps"],
        "baseline_seconds": 1 / other["rps"],
        "ratio": mine["rps"] / other["rps"],
        "target": target,
        "peak_rss_mb": None,
        "notes": _describe(mine, other, named),
    }


def _describe(mine: dict[str, float], other: dict[str, float], named: str) -> str:
    return (
        f"{mine['rps']:.0f} req/s, p50 {mine['p50_ms']:.1f} ms, p99 {mine['p99_ms']:.1f} ms, "
        f"{mine['failed_share']:.1%} not 200; {named}: {other['rps']:.0f} req/s, p50 {other['p50_ms']:.1f} ms, "
        f"p99 {other['p99_ms']:.1f} ms, {other['failed_share']:.1%} not 200 ({CLIENTS} clients, hey)"
    )
