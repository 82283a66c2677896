"""The MLflow tracking server of the local stack: basic auth, SQLite, artifacts proxied into the bucket."""

from __future__ import annotations

from blocks.settings import Settings
from deployments.stack.services import BIN, Service
from deployments.stack.state import LocalCredentials


def _auth_config(settings: Settings, credentials: LocalCredentials) -> str:
    """The basic-auth app's settings: users in their own SQLite file, nobody but the admin may read anything.

    The admin password is not in the file: the server gets it as MLFLOW_AUTH_ADMIN_PASSWORD and stores only a hash
    when it creates the admin user on its first start.
    """
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{settings.home / 'mlflow-auth.db'}\n"
        f"admin_username = {credentials.mlflow_username}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Checking a password hash costs tens of milliseconds of CPU, and a training run makes hundreds of requests:
        # a verified login is remembered for five minutes (a password change clears it at once).
        "auth_cache_ttl_seconds = 300\n"
    )


def service(settings: Settings, credentials: LocalCredentials | None = None) -> Service:
    """MLflow on SQLite; it proxies artifacts into the project bucket, so clients need no S3 access of their own."""
    config = settings.home / "mlflow-auth.ini"
    secrets = (
        {
            "MLFLOW_AUTH_ADMIN_PASSWORD": credentials.mlflow_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": credentials.mlflow_flask_secret,
        }
        if credentials
        else {}
    )
    return Service(
        name="mlflow",
        command=[
            str(BIN / "mlflow"),
            "server",
            *["--app-name", "basic-auth"],
            *["--backend-store-uri", f"sqlite:///{settings.home / 'mlflow.db'}"],
            *["--artifacts-destination", f"s3://{settings.bucket}/mlflow"],
            *["--host", settings.host, "--port", str(settings.mlflow_port), "--workers", "1"],
        ],
        health_url=f"http://{settings.host}:{settings.mlflow_port}/health",  # the one path open without credentials
        log_file=settings.home / "logs" / "mlflow.log",
        port=settings.mlflow_port,
        # The job runner serves MLflow's GenAI features, which driftloop does not use: it would add four processes.
        env=secrets
        | {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_S3_ENDPOINT_URL": settings.resolved_s3_endpoint or "",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        files={config: _auth_config(settings, credentials)} if credentials else {},
    )
