"""The local process worker: polls the `driftloop` work pool and runs each flow run in one process."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import requests

from blocks.settings import Settings
from deployments.stack import services
from deployments.stack.state import StackError

WORKER_NAME = "driftloop-local"


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
        health_url=f"{settings.prefect_api_url}/work_pools/{settings.work_pool}/workers/filter",
        log_file=settings.home / "logs" / "worker.log",
        port=0,  # the worker listens on no port; 0 always passes the port check
        env={"PREFECT_WORKER_QUERY_SECONDS": str(poll), "PREFECT_WORKER_PREFETCH_SECONDS": str(max(2 * poll, 1.0))},
    )


def worker_online(settings: Settings, since: float = 0.0) -> bool:
    """True if the API lists our worker in the pool as ONLINE, with a heartbeat at or after `since` (epoch s)."""
    url = service(settings).health_url
    try:
        response = requests.post(url, json={}, timeout=5)
    except requests.RequestException:
        return False
    if response.status_code != 200:
        return False
    return any(
        worker["name"] == WORKER_NAME
        and worker["status"] == "ONLINE"
        and datetime.fromisoformat(worker["last_heartbeat_time"]).timestamp() >= since
        for worker in response.json()
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
