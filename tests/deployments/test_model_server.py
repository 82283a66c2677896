"""The model server as a process, against the session's real S3, MLflow and Prefect: contract, champion swaps under
load, rollback, canary, shadow, the online log, a tampered version."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from prefect.settings import get_current_settings

from blocks import names
from blocks.models import ServingPolicy
from blocks.settings import Settings, process_environment
from deployments.stack import model_server, services
from deployments.stack.environment import driftloop_variables
from deployments.stack.state import LocalCredentials
from flows.promote import promote
from flows.rollback import rollback
from flows.train import train
from tasks.contracts.credit import generate
from tasks.data.conformance import conform
from tasks.model.registry import client_for, load_model, set_alias
from tasks.model.scoring import predict
from tasks.platform.config import DatasetConfig
from tasks.serving.online_log import shadow_prefix
from tasks.serving.routing import to_challenger
from tests.flows.test_train_promote import land, with_window

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serve")]


@dataclass
class Server:
    url: str
    token: str
    log: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def predict(self, dataset: str, records: list[dict[str, Any]], token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        return self.client.post(f"{self.url}/v1/datasets/{dataset}/predict", json={"records": records}, headers=headers)

    def ready(self, dataset: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.url}/ready").json()
        return body["datasets"].get(dataset, {})

    def metrics(self) -> str:
        return self.client.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {self.token}"}).text

    def versions(self, dataset: str, records: list[dict[str, Any]]) -> set[str]:
        answer = self.predict(dataset, records)
        assert answer.status_code == 200, answer.text
        return {p["version"] for p in answer.json()["predictions"]}


@contextmanager
def running_server(
    settings: Settings, credentials: LocalCredentials
) -> Iterator[tuple[Server, subprocess.Popen[bytes]]]:
    """`python -m deployments.serve` on a free port, as the stack starts it, quick to re-read aliases and blocks;
    the server and its process."""
    settings = settings.model_copy(update={"serve_port": services.free_port()})
    service = model_server.service(settings)
    env = process_environment() | driftloop_variables(settings)
    env |= {
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "MLFLOW_TRACKING_URI": settings.resolved_mlflow_uri,  # as the stack gives it: models:/ URIs resolve by it
        "DRIFTLOOP_SERVE_TOKEN": credentials.serve_token,
        "DRIFTLOOP_ALIAS_POLL_SECONDS": "0.5",
        "DRIFTLOOP_SERVE_REFRESH_SECONDS": "1",
    }
    process = services.start(service, env)
    try:
        services.wait_healthy(service, process)
        yield Server(f"http://127.0.0.1:{settings.serve_port}", credentials.serve_token, service.log_file), process
    finally:
        services.stop(process, service.stop_seconds)


@pytest.fixture(scope="module")
def server_process(stack_blocks: Settings, credentials: LocalCredentials) -> Iterator[tuple[Server, int]]:
    with running_server(stack_blocks, credentials) as (server, process):
        yield server, process.pid


@pytest.fixture
def server(server_process: tuple[Server, int]) -> Server:
    return server_process[0]


def records(rows: int, seed: int = 99) -> list[dict[str, Any]]:
    """Applications as a client sends them: JSON, times as ISO text, no outcome."""
    frame = generate(rows, seed, datetime(2024, 3, 1, tzinfo=UTC).replace(tzinfo=None)).drop("defaulted")
    loaded: list[dict[str, Any]] = orjson.loads(orjson.dumps(frame.to_dicts()))
    return loaded


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.1) -> float:
    """Seconds until `condition` held; fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout}s"
        time.sleep(every)
    return time.monotonic() - started


def champion_served(server: Server, cfg: DatasetConfig, version: str) -> None:
    wait_until(lambda: server.ready(cfg.name).get("champion") == version)


def served_champion(cfg: DatasetConfig, server: Server) -> None:
    """v1, trained on two of eight batches, promoted and served."""
    land(cfg, 8)
    promote(dataset=with_window(cfg, 2).name, challenger_version=train(dataset=cfg.name))
    champion_served(server, cfg, "1")


def champion_and_challenger(cfg: DatasetConfig, server: Server) -> str:
    """`served_champion`, and v2 trained on all eight (better), the challenger: its version."""
    served_champion(cfg, server)
    return train(dataset=with_window(cfg, 8).name)


def serving_policy(cfg: DatasetConfig, server: Server, **fields: Any) -> None:
    ServingPolicy(**fields).save(names.serving_policy(cfg.name), overwrite=True)
    wait_until(lambda: server.ready(cfg.name).get("mode") == fields.get("mode", "off"))


def test_a_valid_request_is_scored_by_the_champion_and_a_bad_one_refused_by_column_and_check(
    dataset: DatasetConfig, server: Server
) -> None:
    land(dataset, 6)
    promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name))
    champion_served(server, dataset, "1")
    sent = records(20)

    answer = server.predict(dataset.name, sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == dataset.model_name and len(body["request_id"]) == 32
    assert [p["id"] for p in body["predictions"]] == [r["application_id"] for r in sent]
    assert {p["version"] for p in body["predictions"]} == {"1"}
    typed = conform(pl_frame(sent), dataset.contract)
    expected = predict(load_model(dataset, "1"), typed, dataset.columns)
    assert np.allclose([p["score"] for p in body["predictions"]], expected, rtol=0, atol=1e-12)

    broken = [{k: v for k, v in r.items() if k != "region"} for r in sent]
    broken[3]["age"] = 150
    refused = server.predict(dataset.name, broken)
    assert refused.status_code == 422
    failures = {(f["column"], f["check"]): f["rows"] for f in refused.json()["failures"]}
    assert failures == {("region", "column_in_dataframe"): [], ("age", "less_than_or_equal_to(100)"): [3]}

    assert server.predict(dataset.name, sent, token="wrong").status_code == 401
    unknown = server.predict(dataset.name + "x", sent)
    assert unknown.status_code == 404 and f"Did you mean {dataset.name!r}" in unknown.json()["detail"]


def test_a_dataset_without_a_champion_answers_503_saying_what_to_do(dataset: DatasetConfig, server: Server) -> None:
    wait_until(lambda: server.ready(dataset.name) != {})
    answer = server.predict(dataset.name, records(2))
    assert answer.status_code == 503
    assert "has no champion yet: run `train`, then `promote`" in answer.json()["detail"]
    assert server.client.get(f"{server.url}/ready").status_code == 503  # one served dataset has no champion


class Load:
    """Clients sending requests without pause on threads of their own, counting every answer that is not a 200."""

    def __init__(self, server: Server, dataset: str, threads: int = 4) -> None:
        self.server, self.dataset, self.stop = server, dataset, threading.Event()
        self.answers: list[tuple[int, set[str]]] = []
        self.threads = [threading.Thread(target=self._send, args=(seed,)) for seed in range(threads)]

    def _send(self, seed: int) -> None:
        sent = records(5, seed=1000 + seed)
        with httpx.Client(timeout=30) as client:
            mine = Server(self.server.url, self.server.token, client)
            while not self.stop.is_set():
                answer = mine.predict(self.dataset, sent)
                versions = {p["version"] for p in answer.json()["predictions"]} if answer.status_code == 200 else set()
                self.answers.append((answer.status_code, versions))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_a_promotion_is_served_within_two_seconds_with_no_failed_request_across_the_swap_and_a_rollback_swaps_back(
    dataset: DatasetConfig, server: Server
) -> None:
    challenger = champion_and_challenger(dataset, server)
    wait_until(lambda: server.ready(dataset.name).get("challenger") == challenger)
    probe = records(3)
    downloads = f'driftloop_serve_model_downloads_total{{dataset="{dataset.name}"}} 2.0'
    assert downloads in server.metrics()  # v1 and v2, each once
    with Load(server, dataset.name) as load:
        assert promote(dataset=dataset.name, challenger_version=challenger).promoted
        moved = wait_until(lambda: server.versions(dataset.name, probe) == {"2"}, timeout=10, every=0.05)
        time.sleep(1.0)  # the load goes on past the swap
    assert moved < 2.0, f"the new champion answered {moved:.2f}s after the promotion"
    statuses = [status for status, _ in load.answers]
    assert len(statuses) > 20 and set(statuses) == {200}
    assert {"1"} in [v for _, v in load.answers] and load.answers[-1][1] == {"2"}  # both sides of the swap

    rollback(dataset=dataset.name)
    back = wait_until(lambda: server.versions(dataset.name, probe) == {"1"}, timeout=10, every=0.05)
    assert back < 2.0
    assert downloads in server.metrics()  # both swaps were to a version already in memory
    said = server.log.read_text()
    assert f"champion of {dataset.name} is now v2 (was 1)" in said and f"of {dataset.name} is now v1 (was 2)" in said


def test_canary_answers_a_fifth_of_the_ids_from_the_challenger_and_each_id_always_from_the_same_model(
    dataset: DatasetConfig, server: Server
) -> None:
    champion_and_challenger(dataset, server)
    serving_policy(dataset, server, mode="canary", canary_percent=20.0)
    wait_until(lambda: server.ready(dataset.name).get("challenger") == "2")

    sent = records(5000, seed=7)
    first, again = ({} for _ in range(2))
    for answers in (first, again):
        for start in range(0, len(sent), 500):
            body = server.predict(dataset.name, sent[start : start + 500]).json()
            answers.update({p["id"]: p["version"] for p in body["predictions"]})
    assert first == again  # the same id meets the same model every time
    share = sum(v == "2" for v in first.values()) / len(first)
    assert 0.18 <= share <= 0.22, share
    routed = to_challenger(list(first), 20.0)
    assert [v == "2" for v in first.values()] == routed.tolist()


def test_shadow_returns_only_the_champion_logs_both_and_lands_the_online_log(
    dataset: DatasetConfig, server: Server, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    challenger = champion_and_challenger(dataset, server)
    serving_policy(dataset, server, mode="shadow", flush_rows=200, flush_seconds=1.0)
    wait_until(lambda: server.ready(dataset.name).get("challenger") == challenger)

    sent = records(300, seed=8)
    for start in range(0, 300, 100):
        assert server.versions(dataset.name, sent[start : start + 100]) == {"1"}
    shadows = shadow_prefix(dataset.name, challenger)
    wait_until(lambda: sum(dataset.store.get_json(k)["rows"] for k in dataset.store.list_keys(shadows)) == 300)
    summary = dataset.store.get_json(dataset.store.list_keys(shadows)[0])
    assert summary["champion_version"] == "1" and 0.0 < summary["agreement"] <= 1.0
    assert 0.5 < summary["rank_correlation"] <= 1.0 and summary["challenger_p95_ms"] > 0

    logs = [dataset.store.read_parquet(k) for k in dataset.store.list_keys(f"serving/{dataset.name}/log/")]
    served = pl_concat(logs)
    assert served.height == 300 and set(served["answered_by"]) == {"1"}
    assert served["challenger_score"].is_not_null().all() and set(served["challenger_version"]) == {challenger}
    landed = [dataset.store.read_parquet(k) for k in dataset.store.list_keys(f"landing/{dataset.name}/online/")]
    online = conform(pl_concat(landed), dataset.contract)  # the contract's columns: ingest takes it like any batch
    assert sorted(online["application_id"]) == sorted(r["application_id"] for r in sent)

    promotion_policy(min_shadow_rows=1000)
    refused = promote(dataset=dataset.name, challenger_version=challenger)
    shadow_gate = next(g for g in refused.gates if g.gate == "shadow")
    assert not refused.promoted and not shadow_gate.passed and shadow_gate.value == 300


def test_a_tampered_version_is_never_swapped_in_and_the_champion_keeps_serving(
    dataset: DatasetConfig, server: Server
) -> None:
    served_champion(dataset, server)
    # The server loads the challenger before it is promoted (and would serve that verified copy): here it follows
    # another alias, so the first it sees of v2 is the tampered file.
    serving_policy(dataset, server, mode="shadow", challenger_alias="candidate")
    tampered = train(dataset=with_window(dataset, 8).name)
    details = client_for(dataset).get_model_version(dataset.model_name, tampered)
    logged_model = details.source.removeprefix("models:/")  # MLflow 3 keeps a version's files under its logged model
    (model_key,) = [k for k in dataset.store.list_keys("mlflow/") if f"/{logged_model}/" in k and k.endswith(".lgb")]
    body = bytearray(dataset.store.get(model_key))
    body[len(body) // 2] ^= 0x01
    dataset.store.put(model_key, bytes(body))

    set_alias(dataset, "champion", tampered)  # moved by hand, outside driftloop
    wait_until(lambda: server.ready(dataset.name).get("refused") == [tampered])
    assert server.versions(dataset.name, records(5)) == {"1"}
    metrics = server.metrics()
    assert f'driftloop_serve_models_refused_total{{dataset="{dataset.name}"}} 1.0' in metrics


def pl_concat(frames: list[Any]) -> Any:
    import polars as pl

    return pl.concat(frames, how="diagonal_relaxed")


def pl_frame(sent: list[dict[str, Any]]) -> Any:
    import polars as pl

    return pl.DataFrame(sent).with_columns(pl.lit(None, pl.Int64).alias("defaulted"))


def landers(server_pid: int) -> list[int]:
    """The process ids of the server's lander children (normally one)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return [int(c) for c in children if b"deployments.serve.lander" in Path(f"/proc/{c}/cmdline").read_bytes()]


def gone(pid: int) -> bool:
    """Exited: no process, or one its parent has not reaped yet (a zombie)."""
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z"


def online_rows(cfg: DatasetConfig) -> int:
    return sum(cfg.store.read_parquet(k).height for k in cfg.store.list_keys(f"landing/{cfg.name}/online/"))


@pytest.mark.chaos  # the new lander loads every dataset's models first: minutes after a whole session's tests
def test_a_killed_lander_is_replaced_at_once_and_the_next_requests_land(
    dataset: DatasetConfig, server_process: tuple[Server, int]
) -> None:
    server, pid = server_process
    served_champion(dataset, server)
    serving_policy(dataset, server, mode="off", flush_rows=40, flush_seconds=1.0)
    (lander,) = landers(pid)
    os.kill(lander, signal.SIGKILL)
    wait_until(lambda: [p for p in landers(pid) if not gone(p)] not in ([], [lander]))  # replaced, no request needed

    sent = records(40, seed=31)
    assert server.versions(dataset.name, sent) == {"1"}
    # The new lander first loads every dataset's models, as the server does when it starts: with the many datasets
    # a whole test session leaves, that takes minutes on a busy machine.
    wait_until(lambda: online_rows(dataset) == 40, timeout=300, every=1.0)
    assert len(landers(pid)) == 1
    metrics = server.metrics()
    assert "driftloop_serve_lander_restarts_total 1.0" in metrics
    assert f'driftloop_serve_online_rows_landed_total{{dataset="{dataset.name}"}} 40.0' in metrics


@pytest.mark.chaos  # two more servers, each loading every dataset's models: minutes after a whole session's tests
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_stopped_or_killed_server_leaves_its_lander_to_land_what_it_holds(
    stop: str, dataset: DatasetConfig, server: Server, stack_blocks: Settings, credentials: LocalCredentials
) -> None:
    served_champion(dataset, server)
    ServingPolicy(flush_rows=100_000, flush_seconds=3600.0).save(names.serving_policy(dataset.name), overwrite=True)
    with running_server(stack_blocks, credentials) as (second, process):
        champion_served(second, dataset, "1")
        (lander,) = landers(process.pid)
        assert second.versions(dataset.name, records(30, seed=32)) == {"1"}
        time.sleep(2.0)  # past a few of the lander's flush checks: nothing is due
        assert online_rows(dataset) == 0
        if stop == "SIGKILL":  # no shutdown at all: the lander sees its input close
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    wait_until(lambda: online_rows(dataset) == 30, timeout=60)
    wait_until(lambda: gone(lander))
