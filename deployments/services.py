"""The local services (S3 endpoint, MLflow, Prefect; PostgreSQL in postgres.py): how each starts and answers.

Used by the local stack (`driftloop up`) and by the test fixtures, so tests start services exactly as users do.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from blocks.settings import Settings

BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """A local service could not start or did not become healthy; the message names it and its log file."""


@dataclass(frozen=True)
class Service:
    """A process to start, the URL it answers on, and where its output goes."""

    name: str
    command: list[str]
    health_url: str
    log_file: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None  # the health check of a service that speaks no HTTP


def s3_service(settings: Settings) -> Service:
    return Service(
        name="s3",
        command=[sys.executable, "-m", "moto.server", "-H", settings.host, "-p", str(settings.s3_port)],
        health_url=f"http://{settings.host}:{settings.s3_port}/moto-api/",
        log_file=settings.home / "logs" / "s3.log",
        port=settings.s3_port,
    )


def mlflow_service(settings: Settings) -> Service:
    """MLflow on SQLite; it proxies artifacts into the project bucket, so clients need no S3 access of their own."""
    return Service(
        name="mlflow",
        command=[
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{settings.home / 'mlflow.db'}",
            "--artifacts-destination",
            f"s3://{settings.bucket}/mlflow",
            "--host",
            settings.host,
            "--port",
            str(settings.mlflow_port),
            "--workers",
            "1",
        ],
        health_url=f"http://{settings.host}:{settings.mlflow_port}/health",
        log_file=settings.home / "logs" / "mlflow.log",
        port=settings.mlflow_port,
        # The job runner serves MLflow's GenAI features, which driftloop does not use: it would add four processes.
        env={
            "MLFLOW_S3_ENDPOINT_URL": settings.resolved_s3_endpoint or "",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
    )


def prefect_service(settings: Settings, database_url: str | None = None) -> Service:
    """The Prefect server, on `database_url` (PostgreSQL) if given, else on SQLite in PREFECT_HOME."""
    database = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url} if database_url else {}
    return Service(
        name="prefect",
        command=[
            str(BIN / "prefect"),
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
        | {"PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "1", "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "3"},
    )


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_up(service: Service) -> bool:
    return service.ready() if service.ready is not None else is_healthy(service.health_url)


def is_healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def start(service: Service, env: dict[str, str], host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start the service in its own session, its output appended to its log file."""
    if not port_is_free(host, service.port):
        raise ServiceError(
            f"{service.name}: port {service.port} on {host} is already in use; set another port "
            f"(DRIFTLOOP_{service.name.upper()}_PORT) or stop what holds it"
        )
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        return subprocess.Popen(
            service.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env | service.env,
            start_new_session=True,
        )


def wait_healthy(service: Service, process: subprocess.Popen[bytes] | None, timeout: float = 120.0) -> None:
    """Wait until the service answers its health URL; raise ServiceError naming it and its log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(service):
            return
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{service.name} exited with code {process.returncode} while starting; see {service.log_file}"
            )
        time.sleep(0.3)
    raise ServiceError(
        f"{service.name} did not answer {service.health_url} within {timeout:.0f}s; see {service.log_file}"
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a started service and everything it spawned."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
