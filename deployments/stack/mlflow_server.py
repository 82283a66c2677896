"""The MLflow tracking server of the local stack."""

from __future__ import annotations

from blocks.settings import Settings
from deployments.stack.services import BIN, Service


def service(settings: Settings) -> Service:
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
