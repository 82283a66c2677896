"""The environment every process of the local stack gets: explicit endpoints, credentials and settings.

Inherited PREFECT_*, MLFLOW_*, AWS_* and DRIFTLOOP_* variables are dropped first, so nothing reaches a process through
an ambient default (an unset or stale PREFECT_API_URL silently sends events to a throwaway server).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from blocks.settings import Settings, process_environment
from deployments.stack.services import BIN
from deployments.stack.state import LocalCredentials, load_or_create_credentials
from deployments.watch.api import prefect_api

OWN_PREFIXES = ("PREFECT_", "MLFLOW_", "AWS_", "DRIFTLOOP_")
# What a user's shell needs to talk to the stack with the prefect, mlflow and aws command lines.
SHELL_VARIABLES = (
    "PATH",
    "PREFECT_API_URL",
    "PREFECT_API_AUTH_STRING",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
    "DRIFTLOOP_SERVE_TOKEN",
)


def prefect_home(settings: Settings) -> str:
    return str(settings.home / "prefect")


def driftloop_variables(settings: Settings) -> dict[str, str]:
    """The settings as DRIFTLOOP_* variables, with endpoints resolved so child processes agree with this one."""
    dumped = settings.model_dump(exclude={"serve_token"})  # a secret: stack_environment adds the stack's own
    values = {f"DRIFTLOOP_{name.upper()}": str(value) for name, value in dumped.items() if value}
    values["DRIFTLOOP_MLFLOW_TRACKING_URI"] = settings.resolved_mlflow_uri
    values["DRIFTLOOP_S3_ENDPOINT_URL"] = settings.resolved_s3_endpoint or "aws"
    return values


def stack_environment(settings: Settings, credentials: LocalCredentials | None = None) -> dict[str, str]:
    """The full environment for a process that talks to the local stack (services, worker, CLI subprocesses)."""
    credentials = credentials or load_or_create_credentials(settings.home)
    base = {key: value for key, value in process_environment().items() if not key.startswith(OWN_PREFIXES)}
    # The project's interpreter first: flow runs start as `python -m prefect.engine` (prefect.yaml).
    base["PATH"] = os.pathsep.join([str(BIN), *filter(None, [base.get("PATH")])])
    return (
        base
        | _prefect(settings, credentials)
        | _mlflow(settings, credentials)
        | _aws(settings, credentials)
        | driftloop_variables(settings)
        | {"DRIFTLOOP_SERVE_TOKEN": credentials.serve_token}
    )


@contextmanager
def stack_api(settings: Settings) -> Iterator[None]:
    """Point this process's Prefect and MLflow clients at the local stack, with its credentials, and back after."""
    credentials = load_or_create_credentials(settings.home)
    with (
        mock.patch.dict(os.environ, _mlflow(settings, credentials)),
        prefect_api(settings.prefect_api_url, credentials.prefect_auth),
    ):
        yield


def shell_exports(settings: Settings) -> str:
    """`export NAME=value` lines for SHELL_VARIABLES, for `eval "$(driftloop env)"`."""
    env = stack_environment(settings)
    return "\n".join(f"export {name}={shlex.quote(env[name])}" for name in SHELL_VARIABLES if name in env)


def _prefect(settings: Settings, credentials: LocalCredentials) -> dict[str, str]:
    return {
        "PREFECT_HOME": prefect_home(settings),
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_API_AUTH_STRING": credentials.prefect_auth,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # Plain, unwrapped CLI output keeps the log files readable.
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_CLI_WRAP_LINES": "false",
        "PYTHONUNBUFFERED": "1",
    }


def _mlflow(settings: Settings, credentials: LocalCredentials) -> dict[str, str]:
    values = {
        "MLFLOW_TRACKING_URI": settings.resolved_mlflow_uri,  # never with userinfo: clients print it in run links
        "MLFLOW_TRACKING_USERNAME": credentials.mlflow_username,
        "MLFLOW_TRACKING_PASSWORD": credentials.mlflow_password,
        # Models are LightGBM text files; nothing driftloop loads needs pickle, so nothing may use it.
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    }
    if settings.resolved_s3_endpoint:
        values["MLFLOW_S3_ENDPOINT_URL"] = settings.resolved_s3_endpoint
    return values


def _aws(settings: Settings, credentials: LocalCredentials) -> dict[str, str]:
    values = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
        # The local stack's credentials are the only ones its processes see.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if settings.resolved_s3_endpoint:
        values["AWS_ENDPOINT_URL_S3"] = settings.resolved_s3_endpoint
    return values
