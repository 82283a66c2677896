"""What runs in the local stack: each component's service, URL, recorded pid and health."""

from __future__ import annotations

from dataclasses import dataclass

from blocks.settings import Settings
from deployments import services, stack_prefect
from deployments.stack_state import recorded_pid

COMPONENTS = ("s3", "mlflow", "prefect", "worker")


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    url: str
    pid: int | None
    healthy: bool


def component_services(settings: Settings) -> dict[str, services.Service]:
    return {
        "s3": services.s3_service(settings),
        "mlflow": services.mlflow_service(settings),
        "prefect": services.prefect_service(settings),
        "worker": stack_prefect.worker_service(settings),
    }


def is_healthy(settings: Settings, name: str) -> bool:
    if name == "worker":
        return stack_prefect.worker_online(settings)
    return services.is_healthy(component_services(settings)[name].health_url)


def status(settings: Settings) -> list[ComponentStatus]:
    """Each component with its URL, the pid `up` recorded (None if not running) and whether it answers."""
    urls = {
        "s3": settings.resolved_s3_endpoint or "aws",
        "mlflow": settings.resolved_mlflow_uri,
        "prefect": settings.prefect_api_url,
        "worker": f"{settings.prefect_api_url} pool={settings.work_pool}",
    }
    result = []
    for name in COMPONENTS:
        pid = recorded_pid(settings.home, name)
        result.append(ComponentStatus(name, urls[name], pid, pid is not None and is_healthy(settings, name)))
    return result
