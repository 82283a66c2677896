"""What runs in the local stack: each component's service, URL, recorded pid and health."""

from __future__ import annotations

from dataclasses import dataclass

from blocks.settings import Settings
from deployments.stack import mlflow_server, model_server, postgres, prefect_server, s3_server, services, worker
from deployments.stack.state import LocalCredentials, recorded_pid


def components() -> tuple[str, ...]:
    """The stack's components in start order; PostgreSQL only where its programs are installed."""
    database = ("postgres",) if postgres.available() else ()
    return (*database, "s3", "mlflow", "prefect", "worker", "serve")


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    url: str
    pid: int | None
    healthy: bool


def component_services(settings: Settings, credentials: LocalCredentials | None = None) -> dict[str, services.Service]:
    """Each component's service; with `credentials`, each carries the secrets its server checks (`up` passes them,
    `status` needs only the addresses)."""
    every = {
        "postgres": postgres.service(settings),
        "s3": s3_server.service(settings, credentials),
        "mlflow": mlflow_server.service(settings, credentials),
        "prefect": prefect_server.service(settings, credentials, postgres.database_url(settings, credentials)),
        "worker": worker.service(settings),
        "serve": model_server.service(settings),
    }
    return {name: every[name] for name in components()}


def is_healthy(settings: Settings, name: str) -> bool:
    if name == "worker":
        return worker.worker_online(settings)
    return services.is_up(component_services(settings)[name])


def status(settings: Settings) -> list[ComponentStatus]:
    """Each component with its URL, the pid `up` recorded (None if not running) and whether it answers."""
    urls = {
        "postgres": postgres.address(settings),
        "s3": settings.resolved_s3_endpoint or "aws",
        "mlflow": settings.resolved_mlflow_uri,
        "prefect": settings.prefect_api_url,
        "worker": f"{settings.prefect_api_url} pool={settings.work_pool}",
        "serve": f"http://{settings.host}:{settings.serve_port}",
    }
    result = []
    for name in components():
        pid = recorded_pid(settings.home, name)
        result.append(ComponentStatus(name, urls[name], pid, pid is not None and is_healthy(settings, name)))
    return result
