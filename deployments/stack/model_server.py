"""The model server of the local stack: one process serving every dataset's champion (deployments/serve/)."""

from __future__ import annotations

from blocks.settings import Settings
from deployments.stack.services import BIN, Service


def service(settings: Settings) -> Service:
    """Its token and endpoints come with the stack's environment (DRIFTLOOP_SERVE_TOKEN among them)."""
    return Service(
        name="serve",
        command=[str(BIN / "python"), "-m", "deployments.serve"],
        health_url=f"http://{settings.host}:{settings.serve_port}/health",
        log_file=settings.home / "logs" / "serve.log",
        port=settings.serve_port,
        env={
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a model load is one log line, not a progress bar
            # Requests are a few rows: polars' thread pool only adds hand-offs, and the uvicorn loop is the one core
            # a request needs.
            "POLARS_MAX_THREADS": "1",
        },
        stop_seconds=30.0,  # SIGTERM lands the online log that waits before the process exits
    )
