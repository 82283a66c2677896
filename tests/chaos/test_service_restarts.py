"""A service of the stack SIGKILLed in the middle of the loop's work and started again by `driftloop up`: nothing lost,
nothing doubled.

The Prefect server, then PostgreSQL (the server's database) die while a landed batch is being ingested or scored;
the MLflow server dies while a promotion is judging and recording its decision. After the restart the flow runs'
client and task retries carry the work through, or the heartbeat automation marks an orphaned run Crashed and the
ingest sweep and `reconcile` make good what it left undone; the invariants (tests/chaos/invariants.py) then hold, and
a promotion is recorded once, with the `champion` alias agreeing with the history.

`make chaos` runs these on a stack of their own.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import psutil
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.deployments import run_deployment

from blocks.settings import Settings
from deployments.stack.state import recorded_pid
from deployments.stack.status import components
from deployments.watch.runs import RunsTimeout, flow_runs, wait_for_runs, wait_until
from tasks.data import lake
from tasks.model import champions, history
from tasks.model.registry import champion_version
from tasks.platform.config import DatasetConfig
from tests.chaos_results import ChaosLog
from tests.durable_fixture import land_one, run_and_wait
from tests.stack_fixture import run_cli

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.stack,
    pytest.mark.xdist_group("stack"),
    # A restart, an orphaned run's 90 s until Crashed, and reconcile's rounds; the first case also builds the stack.
    pytest.mark.timeout(1800),
]

FINAL_OUTCOMES = {"ingested", "quarantined", "duplicate"}
MLFLOW_DOWNTIME_SECONDS = 5


def kill(api: Settings, component: str) -> float:
    """SIGKILL the component's process and every process it started, as a dying host would; when (monotonic)."""
    pid = recorded_pid(api.home, component)
    assert pid is not None, f"{component} is not running"
    leader = psutil.Process(pid)
    victims = [*leader.children(recursive=True), leader]  # a child left alive would keep the port: no restart
    killed_at = time.monotonic()
    for process in victims:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(victims, timeout=30)
    return killed_at


def restart(api: Settings, component: str) -> None:
    """`driftloop up` starts what is gone; it must name the component as started again."""
    started = run_cli(api, "up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"{component}: started" in started.stdout, started.stdout


def state_of(run: FlowRun) -> State:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state is not None
    return state


def running_step(cfg: DatasetConfig, key: str, since: datetime) -> str | None:
    """The flow of the landed object's chain that is Running now: its ingest, or the score of its batch."""
    with get_client(sync_client=True) as client:
        chain = {
            "ingest": [r for r in flow_runs(client, "ingest", since) if r.parameters.get("key") == key],
            "score": [r for r in flow_runs(client, "score", since) if r.parameters.get("dataset") == cfg.name],
        }
    return next((flow for flow, runs in chain.items() if any(r.state and r.state.is_running() for r in runs)), None)


def kill_mid_chain(api: Settings, cfg: DatasetConfig, component: str, seed: int) -> tuple[str, datetime, str, float]:
    """Land one object, SIGKILL `component` while its ingest or score runs, restart it; the key, when it landed,
    which step was running and when the fault struck."""
    key, since = land_one(cfg, seed=seed)
    step: list[str] = []

    def chain_running() -> bool:
        step[:] = [found] if (found := running_step(cfg, key, since)) else []
        return bool(step)

    wait_until(chain_running, 300, "the landed object's ingest or score run to run", poll=0.1)
    fault_at = kill(api, component)
    restart(api, component)
    return key, since, step[0], fault_at


def unfinished(since: datetime) -> list[str]:
    """Each run since `since` that has not ended, with the states the server kept for it."""
    with get_client(sync_client=True) as client:
        runs = [run for flow in ("ingest", "score", "monitor") for run in flow_runs(client, flow, since)]
        return [
            f"{run.name} {run.parameters}: " + " > ".join(s.name for s in client.read_flow_run_states(run.id))
            for run in runs
            if not (run.state and run.state.is_final())
        ]


def ingest_if_unledgered(cfg: DatasetConfig, key: str, since: datetime) -> None:
    """Once the object's ingest runs ended (an orphaned one is marked Crashed), an object still without a ledger
    outcome is taken in as the scheduled sweep would take it."""
    try:
        wait_for_runs("ingest", 1, since, timeout=300, parameters={"key": key})
    except RunsTimeout:
        pytest.fail(f"the ingest of {key} never ended after the restart: {unfinished(since)}")
    ledger = cfg.store.get_json_if_exists(lake.ledger_key(cfg.name, key)) or {}
    if ledger.get("outcome") not in FINAL_OUTCOMES:
        run_and_wait("ingest", dataset=cfg.name)


@pytest.mark.parametrize(
    ("case", "component", "name", "seed"),
    [("03 prefect restart", "prefect", "Prefect server", 410), ("04 postgres restart", "postgres", "PostgreSQL", 420)],
)
def test_a_service_killed_mid_chain_and_restarted_loses_and_doubles_nothing(
    api: Settings, champion: DatasetConfig, chaos_log: ChaosLog, case: str, component: str, name: str, seed: int
) -> None:
    if component not in components() or recorded_pid(api.home, component) is None:
        pytest.fail(
            f"`driftloop status` lists no running {name} in this stack; `driftloop up` should have started it "
            "(PostgreSQL where its server programs are installed, as on this machine: deployments/stack/postgres.py)"
        )
    key, since, step, fault_at = kill_mid_chain(api, champion, component, seed=seed)
    ingest_if_unledgered(champion, key, since)

    faults = f"{name} SIGKILLed during {step}, restarted by `driftloop up`"
    found = chaos_log.recovered(case, faults, champion, [key], since, fault_at)
    assert found.clean, found


def test_mlflow_stopped_during_a_promotion_records_one_decision_and_the_alias_follows_the_history(
    api: Settings, champion: DatasetConfig, chaos_log: ChaosLog
) -> None:
    cfg, since = champion, datetime.now(UTC)
    run_and_wait("train", dataset=cfg.name)  # a challenger to decide on
    decided_before = len(history.read_log(cfg))

    # when: MLflow dies while the promotion runs, and comes back seconds later
    promoting = run_deployment("promote/driftloop", parameters={"dataset": cfg.name}, timeout=0)
    wait_until(lambda: state_of(promoting).is_running(), 300, "the promote run to run", poll=0.1)
    fault_at = kill(api, "mlflow")
    time.sleep(MLFLOW_DOWNTIME_SECONDS)
    restart(api, "mlflow")

    # then: its task retries carry it through; a run that failed all the same is simply run again
    wait_until(lambda: state_of(promoting).is_final(), 600, "the promote run to end", poll=2)
    if not state_of(promoting).is_completed():
        run_and_wait("promote", dataset=cfg.name)
    faults = f"MLflow SIGKILLed during promote, down {MLFLOW_DOWNTIME_SECONDS} s, restarted by `driftloop up`"
    found = chaos_log.recovered("05 mlflow stopped during promotion", faults, cfg, [], since, fault_at)

    log = history.read_log(cfg)
    assert len(log) == decided_before + 1, [record.describe() for record in log[decided_before:]]
    assert champion_version(cfg) == champions.champion(log)
    assert found.clean, found
