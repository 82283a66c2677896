"""The serving benchmark's runs of our server: `hey` against it, and pairs of a quiet and a logged run.

A pair's quiet run comes first, after the lander has landed everything the previous logged run left: a micro-batch
landing during a quiet run would slow it down and flatter the ratio."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from blocks import names
from blocks.models import ServingPolicy
from tasks.platform.config import DatasetConfig

CLIENTS = 8
DRAIN_SECONDS = 1.0  # the flush interval while the lander lands what a logged run left
LANDED = re.compile(r'^driftloop_serve_online_rows_landed_total\{dataset="([^"]+)"\} ([\d.e+]+)$', re.M)
SCORED = re.compile(r'^driftloop_serve_rows_total\{dataset="([^"]+)",model_version="[^"]*"\} ([\d.e+]+)$', re.M)


@dataclass(frozen=True)
class Pair:
    quiet: dict[str, float]
    logged: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.logged["rps"] / self.quiet["rps"]


def median_pair(pairs: list[Pair]) -> Pair:
    """The pair whose ratio is the median (the number of pairs is odd)."""
    middle = statistics.median_low(pair.ratio for pair in pairs)
    return next(pair for pair in pairs if pair.ratio == middle)


class Server:
    def __init__(self, url: str, bearer: str, cfg: DatasetConfig) -> None:
        self.url, self.bearer, self.cfg = url, bearer, cfg
        self.root = url.split("/v1/")[0]
        self.logged_rows = 0.0  # rows handed to the lander so far: all of it must land

    def pair(self, hey: str, body: Path, seconds: int) -> Pair:
        self.policy(mode="off", log_online=False, flush_seconds=DRAIN_SECONDS)
        wait(lambda: self._counted(LANDED) >= self.logged_rows, 180)
        quiet = load(hey, self.url, body, seconds, self.bearer)
        self.policy(mode="shadow", log_online=True)  # the default micro-batches: 50,000 rows or 60 s
        before = self._counted(SCORED)
        logged = load(hey, self.url, body, seconds, self.bearer)
        self.logged_rows += self._counted(SCORED) - before
        return Pair(quiet, logged)

    def policy(self, **fields: Any) -> None:
        ServingPolicy(**fields).save(names.serving_policy(self.cfg.name), overwrite=True)
        shown = {"mode": fields["mode"], "online_log": fields["log_online"]}
        dataset = self.cfg.name
        wait(lambda: {k: httpx.get(f"{self.root}/ready").json()["datasets"][dataset][k] for k in shown} == shown)

    def _counted(self, metric: re.Pattern[str]) -> float:
        """A counter of the dataset's, summed over its labels, from the server's /metrics."""
        text = httpx.get(f"{self.root}/metrics", headers={"Authorization": f"Bearer {self.bearer}"}).text
        return sum(float(value) for dataset, value in metric.findall(text) if dataset == self.cfg.name)


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


def wait(ready: Any, timeout: float = 60.0) -> None:
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
