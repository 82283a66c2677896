"""The local stack: `up` starts PostgreSQL (where installed), S3, MLflow, Prefect and a worker, deploys the flows and
starts the model server; `down` stops them; `status`.

Every step is idempotent: a component whose recorded process is alive and healthy is left alone, block documents
that exist are kept, and the flows are redeployed only when prefect.yaml or a flow changed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from blocks.models import StorageLocation
from blocks.settings import PROJECT_ROOT, Settings
from deployments.stack import automations, postgres, prefect_server, services, worker
from deployments.stack.environment import stack_api, stack_environment
from deployments.stack.state import (
    LocalCredentials,
    StackError,
    is_stack_home,
    load_or_create_credentials,
    prepare_home,
    record_pid,
    recorded_pid,
    stop_recorded,
)
from deployments.stack.status import component_services, components
from tasks.platform.store import open_store

Report = Callable[[str], None]
LATE = ("worker", "serve")  # they read blocks and deployments, so they start once those exist


def up(settings: Settings, report: Report, project_dir: Path = PROJECT_ROOT, redeploy: bool = False) -> None:
    """Bring the whole stack up, starting only what is not running yet; raise StackError or ServiceError naming
    the component or step that failed."""
    prepare_home(settings.home)
    settings.record()
    credentials = load_or_create_credentials(settings.home)
    env = stack_environment(settings, credentials)
    _start_services(settings, env, credentials, report)
    pool = prefect_server.start_work_pool(settings, env)
    saved = prefect_server.save_blocks(settings, credentials, project_dir)
    report(f"blocks: saved {', '.join(saved)}" if saved else "blocks: all default documents already exist")
    pool.finish()
    report(f"work pool: {settings.work_pool} (process)")
    serving = _start_model_server(settings, env)  # it boots (seconds) while the worker starts and the flows deploy
    _ensure_worker(settings, env, report, project_dir, redeploy)
    with stack_api(settings):
        applied = automations.apply()
    report("automations: " + ", ".join(f"{name} {what}" for name, what in applied.items()))
    _await_model_server(settings, serving, report)


def down(settings: Settings, report: Report, purge: bool = False) -> None:
    """Stop every process `up` started (worker first); with `purge`, also delete the home directory."""
    every = component_services(settings)
    for name in reversed(components()):
        stopped = stop_recorded(settings.home, name, every[name].stop_seconds)
        report(f"{name}: stopped" if stopped else f"{name}: not running")
    if purge and settings.home.exists():
        if not is_stack_home(settings.home):
            raise StackError(f"purge: {settings.home} was not created by `driftloop up`; refusing to delete it")
        postgres.remove_cluster(settings)
        shutil.rmtree(settings.home)
        report(f"purge: deleted {settings.home}")


def _start_services(settings: Settings, env: dict[str, str], credentials: LocalCredentials, report: Report) -> None:
    """Start the missing services, then wait for each in turn: the database first (Prefect migrates it on start),
    then the rest together (they boot independently).

    `up` never stops anything: after a failure, what did start keeps running (see `status`) until `down`.
    """
    every = component_services(settings, credentials)
    wanted = {name: service for name, service in every.items() if name not in LATE}
    running = {name for name in wanted if recorded_pid(settings.home, name) is not None}
    for name in wanted.keys() - running:
        # Checked for all before starting any, so a taken port leaves nothing half-started.
        taken = wanted[name].taken_ports(settings.host)
        if taken:
            raise services.ServiceError(
                f"{name}: port {', '.join(map(str, taken))} on {settings.host} already in use; set "
                f"DRIFTLOOP_{name.upper()}_PORT to a free port or stop what holds it"
            )
    if "postgres" in wanted.keys() - running:
        postgres.ensure_cluster(settings, credentials)
        wanted["postgres"] = postgres.service(settings)  # its directory is known once the cluster exists
    database = {name: wanted.pop(name) for name in ("postgres",) if name in wanted}
    for wave in (database, wanted):
        started = {name: _start(settings, name, wave[name], env) for name in wave if name not in running}
        for name, service in wave.items():
            services.wait_healthy(service, started.get(name))
            report(f"{name}: {'started' if name in started else 'already running'}, pid {_pid(settings, name)}")
            if name == "s3":
                _ensure_bucket(settings, credentials)  # early, so a bad endpoint fails fast


def _start(settings: Settings, name: str, service: services.Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = services.start(service, env, settings.host)
    record_pid(settings.home, name, process.pid)
    return process


def _ensure_worker(settings: Settings, env: dict[str, str], report: Report, project_dir: Path, redeploy: bool) -> None:
    """Start the worker if needed and deploy meanwhile: both take seconds and do not depend on each other."""
    running = recorded_pid(settings.home, "worker") is not None and worker.worker_online(settings)
    process = None
    if not running:
        stop_recorded(settings.home, "worker")  # alive but not heartbeating: replace it
        ended = worker.end_runs_left_behind(settings)
        if ended:
            report(f"worker: ended {len(ended)} run(s) left by the stopped worker: {', '.join(sorted(ended))}")
        process = services.start(worker.service(settings), env, settings.host)
        record_pid(settings.home, "worker", process.pid)
    deploying = prefect_server.start_deploy(settings, env, project_dir, force=redeploy)
    if process is not None:
        worker.wait_worker_online(settings, process)
    report(f"worker: {'already running' if running else 'started'}, pid {_pid(settings, 'worker')}")
    if deploying is None:
        report("deploy: unchanged since the last deploy, skipped")
        return
    deploying.finish()
    prefect_server.record_deploy(settings, project_dir)
    report("deploy: deployed prefect.yaml")


def _start_model_server(settings: Settings, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """The model server's process, started unless it runs already (then None)."""
    if recorded_pid(settings.home, "serve") is not None:
        return None
    return _start(settings, "serve", component_services(settings)["serve"], env)


def _await_model_server(settings: Settings, process: subprocess.Popen[bytes] | None, report: Report) -> None:
    service = component_services(settings)["serve"]
    services.wait_healthy(service, process)
    what = "already running" if process is None else "started"
    report(f"serve: {what}, pid {_pid(settings, 'serve')}, {service.health_url}")


def _ensure_bucket(settings: Settings, credentials: LocalCredentials) -> None:
    aws = AwsCredentials(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=SecretStr(credentials.secret_access_key),
    )
    location = StorageLocation(
        bucket=settings.bucket, endpoint_url=settings.resolved_s3_endpoint, region=settings.region, credentials=aws
    )
    store = open_store(location)
    try:
        existing = {bucket["Name"] for bucket in store.client.list_buckets().get("Buckets", [])}
        if settings.bucket not in existing:
            store.client.create_bucket(Bucket=settings.bucket)
        store.check_conditional_writes()  # InsecureStore names the store: nothing exactly-once works without them
    except (BotoCoreError, ClientError) as exc:
        raise StackError(
            f"s3: cannot create bucket {settings.bucket!r} at {settings.resolved_s3_endpoint or 'AWS'}: {exc}; "
            f"see {settings.home / 'logs' / 's3.log'}"
        ) from exc


def _pid(settings: Settings, name: str) -> int | None:
    return recorded_pid(settings.home, name)
