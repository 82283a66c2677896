"""The Prefect side of the local stack: blocks, the work pool, the worker, and `prefect deploy`."""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from blocks import names
from blocks.register import register_block_types, save_defaults
from blocks.settings import Settings
from deployments import services
from deployments.api import prefect_api
from deployments.stack_state import LocalCredentials, StackError

WORKER_NAME = "driftloop-local"


def save_blocks(settings: Settings, credentials: LocalCredentials) -> list[str]:
    """Register the block types and save the default documents that do not exist yet; return the names saved."""
    aws = AwsCredentials(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=SecretStr(credentials.secret_access_key),
        region_name=settings.region,
    )
    with prefect_api(settings.prefect_api_url):
        register_block_types()
        # The credentials file is the source of truth: the block always mirrors it.
        aws.save(names.LOCAL_CREDENTIALS, overwrite=True)
        return save_defaults(settings, credentials=aws)


@dataclass(frozen=True)
class PrefectCommand:
    """A `prefect` CLI command running in the background, its output appended to logs/<step>.log."""

    step: str
    arguments: list[str]
    log_file: Path
    process: subprocess.Popen[bytes]

    def finish(self, timeout: float = 600) -> None:
        """Wait for the command; raise StackError naming the step, its log and the log's last lines on failure."""
        code = self.process.wait(timeout=timeout)
        if code != 0:
            raise StackError(
                f"{self.step}: `prefect {' '.join(self.arguments)}` failed with exit code {code}; see {self.log_file}"
                f"\n{_tail(self.log_file)}"
            )


def start_prefect(
    step: str, arguments: list[str], settings: Settings, env: dict[str, str], cwd: Path
) -> PrefectCommand:
    log_file = settings.home / "logs" / f"{step}.log"
    command = [str(services.BIN / "prefect"), "--no-prompt", *arguments]
    with log_file.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    return PrefectCommand(step, arguments, log_file, process)


def start_work_pool(settings: Settings, env: dict[str, str]) -> PrefectCommand:
    """Create the process work pool, or update it in place (`--overwrite` keeps the pool's id and its runs)."""
    arguments = ["work-pool", "create", settings.work_pool, "--type", "process", "--overwrite"]
    return start_prefect("work-pool", arguments, settings, env, settings.home)


def deploy_fingerprint(project_dir: Path, settings: Settings) -> str:
    """A digest of what `prefect deploy` reads: prefect.yaml and the flow sources, plus the target API."""
    digest = hashlib.sha256(settings.prefect_api_url.encode())
    for path in [project_dir / "prefect.yaml", *sorted((project_dir / "flows").rglob("*.py"))]:
        if path.exists():
            digest.update(str(path.relative_to(project_dir)).encode() + path.read_bytes())
    return digest.hexdigest()


def start_deploy(settings: Settings, env: dict[str, str], project_dir: Path, force: bool) -> PrefectCommand | None:
    """Deploy every deployment of prefect.yaml unless nothing changed since the last deploy (then None).

    Redeploying recreates the triggers' automations, which resets their cooldowns, so an unchanged project is left
    alone. Call `record_deploy` once the command finished.
    """
    stamp = _deploy_stamp(settings)
    if not force and stamp.exists() and stamp.read_text() == deploy_fingerprint(project_dir, settings):
        return None
    stamp.unlink(missing_ok=True)
    return start_prefect("deploy", ["deploy", "--all"], settings, env, project_dir)


def record_deploy(settings: Settings, project_dir: Path) -> None:
    _deploy_stamp(settings).write_text(deploy_fingerprint(project_dir, settings))


def _deploy_stamp(settings: Settings) -> Path:
    return settings.home / "run" / "deploy.sha256"


def worker_service(settings: Settings) -> services.Service:
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
    url = worker_service(settings).health_url
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
    log_file = worker_service(settings).log_file
    started = time.time() - 1.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker_online(settings, since=started):
            return
        if process is not None and process.poll() is not None:
            raise StackError(f"worker exited with code {process.returncode} while starting; see {log_file}")
        time.sleep(0.5)
    raise StackError(f"worker did not come ONLINE in pool {settings.work_pool!r} within {timeout:.0f}s; see {log_file}")


def _tail(log_file: Path, lines: int = 8) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
