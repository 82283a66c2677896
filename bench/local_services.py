"""The stack's own S3 server (and MLflow) for a benchmark, with generated credentials, as `driftloop up` runs them."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from prefect.testing.utilities import prefect_test_harness
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from blocks.register import register_block_types, save_defaults
from blocks.settings import Settings
from deployments.stack import mlflow_server, s3_server, services
from deployments.stack.environment import stack_environment
from deployments.stack.state import load_or_create_credentials, prepare_home

CLIENT_PREFIXES = ("AWS_", "MLFLOW_")


@contextmanager
def local_services(settings: Settings, mlflow: bool = False) -> Iterator[AwsCredentials]:
    """Start S3 (and MLflow) under `settings.home`; this process gets their client variables; yield the S3 keys."""
    prepare_home(settings.home)
    credentials = load_or_create_credentials(settings.home)
    env = stack_environment(settings, credentials)
    wanted = [s3_server.service(settings, credentials)]
    if mlflow:
        wanted.append(mlflow_server.service(settings, credentials))
    started: list[tuple[subprocess.Popen[bytes], services.Service]] = []
    try:
        for service in wanted:
            started.append((services.start(service, env), service))
            services.wait_healthy(service, started[-1][0])
        clients = {key: value for key, value in env.items() if key.startswith(CLIENT_PREFIXES)}
        with mock.patch.dict(os.environ, clients):
            yield AwsCredentials(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=SecretStr(credentials.secret_access_key),
            )
    finally:
        for process, service in reversed(started):
            services.stop(process, service.stop_seconds)


@contextmanager
def blocks_on_local_services(mlflow: bool = False) -> Iterator[Settings]:
    """A temporary home with the stack's S3 server (and MLflow), a Prefect test server, and driftloop's blocks saved
    against them."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            s3_port=s3_server.free_s3_port(),
            mlflow_port=services.free_port(),
            bucket="driftloop-bench",
        )
        with local_services(settings, mlflow) as credentials, prefect_test_harness(server_startup_timeout=120):
            register_block_types()
            save_defaults(settings, credentials=credentials, overwrite=True)
            yield settings
