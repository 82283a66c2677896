"""Load under a fault: fifty batches land at once and, while the automations carry them through ingest, scoring and
monitoring, the worker and every flow run it started are SIGKILLed, as a dying host would take them. `driftloop up`
restarts the worker; the scheduled sweep makes good the objects the killed ingests left unledgered, and `reconcile`
the scoring and monitoring they left missing. Every batch ends in the lake once, scored and checked once.

`make chaos` runs this on a stack of its own.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

from blocks.settings import Settings
from deployments.watch.runs import RunsTimeout, wait_until
from tasks.platform.config import DatasetConfig
from tests.chaos.invariants import ACTIVE, recover, settle, tally
from tests.chaos.test_killed_worker import kill_worker_and_its_runs
from tests.chaos_results import ChaosLog
from tests.durable_fixture import champion_dataset, land_one, run_and_wait
from tests.stack_fixture import run_cli

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.stack,
    pytest.mark.xdist_group("stack"),
    # About 150 flow runs three at a time, an orphaned run's 90 s until Crashed, reconcile; and maybe the stack's build.
    pytest.mark.timeout(3600),
]

BATCHES = 50
ROWS = 1500  # small batches: the load is in their number
KILL_AFTER = 20  # ledgered objects: the fault comes with the stream in full flow, not before or after it
# 150 flow runs, three at a time: about 20 minutes on a two-core machine that other work shares.
DRAIN_SECONDS = 1800


def on_their_way(cfg: DatasetConfig) -> list[str]:
    """The dataset's unfinished runs, by flow and state: a run the kill left Pending would stay so forever."""
    active = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE)))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=active, limit=200)
        flows = {flow.id: flow.name for flow in client.read_flows(limit=50)}
    mine = [run for run in runs if run.parameters.get("dataset") == cfg.name]
    return [f"{flows.get(run.flow_id, run.flow_id)} {run.name} {run.state_name} since {run.start_time}" for run in mine]


def ledgered(cfg: DatasetConfig) -> int:
    return len(cfg.store.list_keys(f"lake/{cfg.name}/ledger/"))


def test_fifty_batches_with_the_worker_killed_midstream_are_each_ingested_scored_and_monitored_once(
    api: Settings, chaos_log: ChaosLog
) -> None:
    cfg = champion_dataset("credit-load", "credit-risk-load", seed=600)
    # The champion's four training batches went into the lake unannounced; reconcile scores and checks them now, as
    # the scheduled one would. Once fifty newer batches land they are out of the newest fifty that reconcile looks at,
    # and the tally would count the fixture's batches as lost by the case.
    recover(cfg)
    since = datetime.now(UTC)
    landed_keys = [land_one(cfg, seed, rows=ROWS)[0] for seed in range(610, 610 + BATCHES)]

    wait_until(lambda: ledgered(cfg) >= KILL_AFTER, 600, f"{KILL_AFTER} landed objects to be ledgered", poll=0.5)
    killed_at = time.monotonic()
    kill_worker_and_its_runs(api)
    restarted = run_cli(api, "up")  # the suite's next cases need a worker whatever happens here
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "worker: started" in restarted.stdout

    # `up` marks the killed runs Crashed (their worker is gone), or the heartbeat automation does; the stream flows on.
    try:
        settle(cfg.name, DRAIN_SECONDS)
    except RunsTimeout:
        pytest.fail(f"runs for {cfg.name} still on their way {DRAIN_SECONDS} s after the fault: {on_their_way(cfg)}")
    run_and_wait("ingest", dataset=cfg.name)  # what the scheduled sweep does with the objects left unledgered
    recover(cfg, timeout=DRAIN_SECONDS)
    recovery_seconds = time.monotonic() - killed_at

    found = tally(cfg, landed_keys, since)
    faults = f"worker and its runs SIGKILLed amid {BATCHES} batches landed at once"
    chaos_log.record("10 load under fault", faults, found, recovery_seconds)
    assert found.clean, found
