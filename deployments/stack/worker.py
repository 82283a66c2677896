"""The local process worker: polls the `driftloop` work pool and runs each flow run in one process."""

from __future__ import annotations

import subprocess
import time

import httpx
import psutil
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled, Crashed

from blocks.settings import Settings
from deployments.stack import services
from deployments.stack.environment import stack_api
from deployments.stack.state import StackError

WORKER_NAME = "driftloop-local"
# Every flow run's process says it is alive this often; automations.yaml calls a run Crashed after three missed beats.
HEARTBEAT_SECONDS = 30


def service(settings: Settings) -> services.Service:
    """One process worker; a short poll interval keeps drift event → Running low (DESIGN §6)."""
    poll = settings.worker_poll_seconds
    return services.Service(
        name="worker",
        command=[
            *[str(services.BIN / "prefect"), "worker", "start"],
            *["--pool", settings.work_pool, "--type", "process", "--name", WORKER_NAME],
            *["--limit", str(settings.worker_limit)],
        ],
        health_url=f"{settings.prefect_api_url}/work_pools/{settings.work_pool}",  # read by worker_online, not GET
        log_file=settings.home / "logs" / "worker.log",
        port=0,  # the worker listens on no port; 0 always passes the port check
        env={
            "PREFECT_WORKER_QUERY_SECONDS": str(poll),
            "PREFECT_WORKER_PREFETCH_SECONDS": str(max(2 * poll, 1.0)),
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),  # inherited by each flow run's process
        },
    )


def worker_online(settings: Settings, since: float = 0.0) -> bool:
    """True if the API lists our worker in the pool as ONLINE, with a heartbeat at or after `since` (epoch s).

    Asked through Prefect's client: it sends the auth string and the CSRF token the locked server wants.
    """
    try:
        with stack_api(settings), get_client(sync_client=True) as client:
            workers = client.read_workers_for_work_pool(settings.work_pool)
    except (httpx.HTTPError, ObjectNotFound, PrefectHTTPStatusError):
        return False
    return any(
        worker.name == WORKER_NAME
        and worker.status == "ONLINE"
        and worker.last_heartbeat_time is not None
        and worker.last_heartbeat_time.timestamp() >= since
        for worker in workers
    )


def wait_worker_online(settings: Settings, process: subprocess.Popen[bytes] | None, timeout: float = 90.0) -> None:
    """Wait for a heartbeat newer than now: a record left ONLINE by an earlier worker does not count."""
    log_file = service(settings).log_file
    started = time.time() - 1.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker_online(settings, since=started):
            return
        if process is not None and process.poll() is not None:
            raise StackError(f"worker exited with code {process.returncode} while starting; see {log_file}")
        time.sleep(0.5)
    raise StackError(f"worker did not come ONLINE in pool {settings.work_pool!r} within {timeout:.0f}s; see {log_file}")


def end_runs_left_behind(settings: Settings) -> list[str]:
    """End the pool's runs whose process is gone; called before a fresh worker starts. Returns their names.

    A run whose worker was stopped (`driftloop down`, a reboot) never reports again, and the heartbeat automation
    cannot see its silence while the server is down too: it stayed Running for good and held its deployment's
    concurrency slot, so every later retrain waited behind it. A run whose process outlived its worker is left
    alone, and so is everything when another worker serves the pool: its runs are not ours to judge.
    """
    with stack_api(settings), get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(settings.work_pool)
        if any(worker.name != WORKER_NAME and worker.status == "ONLINE" for worker in workers):
            return []
        left = [run for run in _unfinished_runs(client, settings.work_pool) if not _process_alive(run)]
        for run in left:
            ended = Cancelled if run.state_type == StateType.CANCELLING else Crashed
            message = "Its worker stopped (driftloop down or a restart) and its process is gone."
            client.set_flow_run_state(run.id, ended(message=message), force=True)
    return [run.name for run in left]


def _unfinished_runs(client: SyncPrefectClient, pool: str) -> list[FlowRun]:
    unfinished = [StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=unfinished))),
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
    )


def _process_alive(run: FlowRun) -> bool:
    """True if the run's process still runs on this machine (its pid may since belong to another process)."""
    if not run.infrastructure_pid:
        return False  # taken by a worker that died before it started the process
    try:
        environ = psutil.Process(int(run.infrastructure_pid)).environ()
    except (psutil.Error, ValueError):
        return False
    return environ.get("PREFECT__FLOW_RUN_ID") == str(run.id)
