"""Model server benchmark: driftloop's server against `mlflow models serve`, same champion, one worker process each,
the same load generator (`hey`, 8 concurrent clients), 1-record and 100-record requests.

Ours validates every request against the dataset's contract; MLflow's takes the encoded feature matrix and checks
only its signature. Ours runs with the online log off and with the log on and shadow scoring (the default
micro-batches), 45 s each so that micro-batches land within the run, twice each, alternating, keeping the best of
each (a ratio of single runs moved by more than the 5% it judges). Targets (issue
"Serving plane"): at least 10x MLflow's requests per second on 1-record requests and 3x on 100-record ones, p99 at
most a fifth of MLflow's, and at most 5% of throughput lost to the online log and shadow scoring.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from prefect.settings import get_current_settings

from bench.local_services import blocks_on_local_services
from blocks import names
from blocks.models import ServingPolicy
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
ROUNDS = 2  # of ours with the log off and on, alternating; the best of each is kept
REFRESH_SECONDS = 5.0  # the server re-reads the serving policy this often: each switch of it waits at most this
CLIENTS = 8
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
            quiet: dict[int, dict[str, float]] = {}
            logged: dict[int, dict[str, float]] = {}
            for _ in range(ROUNDS):  # alternating, so a slow minute of the machine does not fall on one side only
                for n in SIZES:
                    policy(cfg, url, mode="off", log_online=False)
                    quiet[n] = best(quiet.get(n), load(hey, url, bodies[n]["ours"], long, token(settings)))
                    policy(cfg, url, mode="shadow", log_online=True)  # the default micro-batches: 50,000 rows or 60 s
                    logged[n] = best(logged.get(n), load(hey, url, bodies[n]["ours"], long, token(settings)))
        with mlflow_served(settings, cfg) as url:
            theirs = {n: load(hey, url, bodies[n]["mlflow"], seconds) for n in SIZES}
    return rows(quiet, logged, theirs)


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
    promote(dataset=cfg.name, challenger_version=train(dataset=cfg.name))
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
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/ready").json()["ready"])
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
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/ping").status_code == 200, 180)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        process.terminate()
        process.wait(30)


def policy(cfg: DatasetConfig, url: str, **fields: Any) -> None:
    ServingPolicy(**fields).save(names.serving_policy(cfg.name), overwrite=True)
    ready = url.split("/v1/")[0] + "/ready"
    shown = {"mode": fields["mode"], "online_log": fields["log_online"]}
    _wait(lambda: {k: httpx.get(ready).json()["datasets"][cfg.name][k] for k in shown} == shown)


def best(kept: dict[str, float] | None, measured: dict[str, float]) -> dict[str, float]:
    """The run with more requests per second."""
    return measured if kept is None or measured["rps"] > kept["rps"] else kept


def load(hey: str, url: str, body: Path, seconds: int, bearer: str = "") -> dict[str, float]:
    """Requests per second, p50 and p99 in ms, and the share of answers that were not 200, under `hey`."""
    command = [hey, "-c", str(CLIENTS), "-z", f"{seconds}s", "-m", "POST", "-T", "application/json", "-D", str(body)]
    command += ["-H", f"Authorization: Bearer {bearer}"] if bearer else []
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": 1000 * float(re.search(r"50% in ([\d.]+) secs", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": 1000 * float(re.search(r"99% in ([\d.]+) secs", out).group(1)),  # type: ignore[union-attr]
        "failed_share": 1 - codes.get(200, 0) / max(sum(codes.values()), 1),
    }


def rows(quiet: dict[int, Any], logged: dict[int, Any], theirs: dict[int, Any]) -> list[dict[str, Any]]:
    targets = {1: ">= 10 (requests/s ours / mlflow); p99 <= 1/5 of mlflow's", 100: ">= 3; p99 <= 1/5 of mlflow's"}
    logging = ">= 0.95 (requests/s with the online log and shadow on / off)"
    found = []
    for size in SIZES:
        name = f"serving-{size}-record{'s' if size > 1 else ''}"
        found.append(_row(name, size, quiet[size], theirs[size], targets[size], "mlflow models serve"))
        found.append(_row(f"{name}-log-and-shadow", size, logged[size], quiet[size], logging, "log and shadow off"))
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


def _wait(ready: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (httpx.HTTPError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("a server did not become ready")
        time.sleep(0.5)
