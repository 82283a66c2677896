"""Fixtures that start real local services: an S3 endpoint, an MLflow server, and a Prefect test harness.

Services are session-scoped (they take seconds to start); each test gets its own dataset block and model name, so
tests never see each other's objects or registry entries.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from blocks.models import StorageLocation
from blocks.register import demo_dataset, register_block_types, save_defaults
from blocks.settings import Settings, process_environment
from deployments.stack import mlflow_server, s3_server, services
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.store import open_store

pytest_plugins = ["tests.stack_fixture"]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a private stack: free ports and a temporary home."""
    return Settings(
        home=tmp_path_factory.mktemp("driftloop"),
        prefect_port=services.free_port(),
        s3_port=services.free_port(),
        mlflow_port=services.free_port(),
        postgres_port=services.free_port(),
        bucket="driftloop-test",
    )


@pytest.fixture(scope="session")
def aws_env() -> Iterator[dict[str, str]]:
    """Throwaway credentials for the local S3 endpoint (it accepts any), kept off the developer's real ones."""
    values = {
        "AWS_ACCESS_KEY_ID": secrets.token_hex(8),
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield values


def _run(service: services.Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = services.start(service, env)
    services.wait_healthy(service, process)
    return process


@pytest.fixture(scope="session")
def s3_endpoint(settings: Settings, aws_env: dict[str, str]) -> Iterator[str]:
    """A real S3 endpoint (moto server) on a free loopback port, with the project bucket created."""
    service = s3_server.service(settings)
    process = _run(service, process_environment())
    endpoint = settings.resolved_s3_endpoint
    assert endpoint is not None
    open_store(StorageLocation(bucket=settings.bucket, endpoint_url=endpoint)).client.create_bucket(
        Bucket=settings.bucket
    )
    yield endpoint
    services.stop(process)


@pytest.fixture(scope="session")
def mlflow_uri(settings: Settings, s3_endpoint: str) -> Iterator[str]:
    """A real MLflow server on SQLite in a temp dir, proxying artifacts into the test bucket."""
    process = _run(mlflow_server.service(settings), process_environment())
    yield settings.resolved_mlflow_uri
    services.stop(process)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A Prefect test harness: a temporary server with events and automations, PREFECT_API_URL pointed at it."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def stack_blocks(prefect_api: None, settings: Settings, s3_endpoint: str, mlflow_uri: str) -> Settings:
    """Block types registered and default documents saved, pointing at the test process."""
    register_block_types()
    save_defaults(settings, overwrite=True)
    return settings


@pytest.fixture
def dataset(stack_blocks: Settings) -> DatasetConfig:
    """A fresh copy of the demo dataset under a unique name and model name, so tests do not share state."""
    name = f"credit-{uuid.uuid4().hex[:8]}"
    spec = demo_dataset()
    spec.model_name = f"credit-risk-{name}"
    spec.save(name, overwrite=True)
    return load_dataset(name)
