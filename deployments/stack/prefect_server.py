"""The Prefect side of the local stack: blocks, the work pool, the worker, and `prefect deploy`."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from prefect.variables import Variable
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from blocks import names
from blocks.register import client_parameters, register_block_types, save_defaults
from blocks.settings import Settings
from deployments.stack import services
from deployments.stack.environment import stack_api
from deployments.stack.state import LocalCredentials, StackError

CODE_DIR_VARIABLE = "driftloop_code_dir"  # prefect.yaml's pull step reads it when each flow run starts


def save_blocks(settings: Settings, credentials: LocalCredentials, project_dir: Path) -> list[str]:
    """Register the block types and save the default documents that do not exist yet; return the names saved. Point
    the `driftloop_code_dir` variable at this checkout: the local worker's runs load the flows from here."""
    aws = AwsCredentials(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=SecretStr(credentials.secret_access_key),
        region_name=settings.region,
        aws_client_parameters=client_parameters(settings),  # for Prefect's own use of it: the result storage
    )
    with stack_api(settings):
        register_block_types()
        # The credentials file is the source of truth: the block always mirrors it.
        aws.save(names.LOCAL_CREDENTIALS, overwrite=True)
        Variable.set(CODE_DIR_VARIABLE, str(project_dir), overwrite=True)
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


def service(
    settings: Settings, credentials: LocalCredentials | None = None, database_url: str | None = None
) -> services.Service:
    """The Prefect server, on `database_url` (PostgreSQL) if given, else on SQLite in PREFECT_HOME.

    Every API call needs the auth string (the UI asks for it once), state-changing calls need a CSRF token (Prefect's
    clients fetch it), and browsers may call it from the UI's own origin only.
    """
    database = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url} if database_url else {}
    locked = {
        "PREFECT_SERVER_API_AUTH_STRING": credentials.prefect_auth if credentials else "",
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": f"http://{settings.host}:{settings.prefect_port}",
    }
    ui = {"PREFECT_UI_URL": f"http://{settings.host}:{settings.prefect_port}"}  # notifications link runs in the UI
    return services.Service(
        name="prefect",
        command=[
            str(services.BIN / "prefect"),
            "server",
            "start",
            "--host",
            settings.host,
            "--port",
            str(settings.prefect_port),
        ],
        health_url=f"http://{settings.host}:{settings.prefect_port}/api/health",
        log_file=settings.home / "logs" / "prefect.log",
        port=settings.prefect_port,
        # A few scheduled runs ahead, not 100: the only schedule is the 10-minute ingest safety net, and every
        # pre-created run is rows a SQLite-backed server rewrites (marked Late, rescheduled) under its write lock.
        env=database
        | locked
        | ui
        | {"PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "1", "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "3"},
    )


def _tail(log_file: Path, lines: int = 8) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
