"""Fixtures that start real local services: SeaweedFS's S3 gateway and an MLflow server, both requiring the
credentials generated for the session as the stack's own are, and a Prefect test harness.

Services are session-scoped (they take seconds to start); each test gets its own dataset block and model name, so
tests never see each other's objects or registry entries.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from blocks import names
from blocks.models import DriftPolicy, PromotionPolicy, StorageLocation
from blocks.register import demo_dataset, register_block_types, save_defaults
from blocks.settings import Settings, process_environment
from deployments.stack import mlflow_server, s3_server, services
from deployments.stack.state import LocalCredentials, load_or_create_credentials, prepare_home
from tasks.platform.config import DatasetConfig, load_block, load_dataset
from tasks.platform.store import open_store

Booting = dict[str, tuple[services.Service, subprocess.Popen[bytes]]]  # by name: each service and its process
pytest_plugins = ["tests.stack_fixture", "tests.durable_fixture", "tests.chaos_results"]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a private stack: free ports and a temporary home."""
    return Settings(
        home=tmp_path_factory.mktemp("driftloop"),
        prefect_port=services.free_port(),
        s3_port=s3_server.free_s3_port(),
        mlflow_port=services.free_port(),
        postgres_port=services.free_port(),
        serve_port=services.free_port(),
        bucket="driftloop-test",
    )


@pytest.fixture(scope="session")
def credentials(settings: Settings) -> LocalCredentials:
    """The session's generated secrets, made and kept exactly as `driftloop up` makes them."""
    prepare_home(settings.home)
    return load_or_create_credentials(settings.home)


@pytest.fixture(scope="session")
def aws_env(credentials: LocalCredentials) -> Iterator[dict[str, str]]:
    """The session's S3 keys and MLflow login in this process's environment, kept off the developer's real ones."""
    values = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "MLFLOW_TRACKING_USERNAME": credentials.mlflow_username,
        "MLFLOW_TRACKING_PASSWORD": credentials.mlflow_password,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield values


@pytest.fixture(scope="session")
def booting(settings: Settings, credentials: LocalCredentials, aws_env: dict[str, str]) -> Iterator[Booting]:
    """The S3 and MLflow servers' processes, started together: each boots (seconds) while the other and the Prefect
    harness do; their fixtures wait for them."""
    started: Booting = {}
    for service in (s3_server.service(settings, credentials), mlflow_server.service(settings, credentials)):
        started[service.name] = (service, services.start(service, process_environment()))
    yield started
    for service, process in reversed(started.values()):
        services.stop(process, service.stop_seconds)


@pytest.fixture(scope="session")
def s3_endpoint(settings: Settings, booting: Booting) -> str:
    """The stack's S3 server (SeaweedFS) on free loopback ports, keys enforced, with the project bucket created."""
    services.wait_healthy(*booting["s3"])
    endpoint = settings.resolved_s3_endpoint
    assert endpoint is not None
    open_store(StorageLocation(bucket=settings.bucket, endpoint_url=endpoint)).client.create_bucket(
        Bucket=settings.bucket
    )
    return endpoint


@pytest.fixture(scope="session")
def mlflow_uri(settings: Settings, s3_endpoint: str, booting: Booting) -> str:
    """The stack's MLflow server (basic auth) on SQLite in a temp dir, proxying artifacts into the test bucket."""
    services.wait_healthy(*booting["mlflow"])
    return settings.resolved_mlflow_uri


@pytest.fixture(scope="session")
def prefect_api(booting: object) -> Iterator[None]:
    """A Prefect test harness: a temporary server with events and automations, PREFECT_API_URL pointed at it. (It
    boots while S3 and MLflow do.)

    The flows the tests run in this process send no heartbeats: nothing watches them here (the crashed-runs
    automation is the stack's), and each run's end would wait up to a second for the heartbeat thread's sleep."""
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture(scope="session")
def stack_blocks(prefect_api: None, settings: Settings, s3_endpoint: str, mlflow_uri: str) -> Settings:
    """Block types registered and default documents saved, pointing at the test process."""
    register_block_types()
    save_defaults(settings, overwrite=True)
    # Evidently's report takes seconds of CPU a check: the tests' checks skip it, but for the monitor flow's tests
    # of the report, which set "drifted" and "every" (tasks/monitoring/test_drift_agreement.py checks its verdicts).
    DriftPolicy(report_batches="none").save(names.DRIFT_POLICY, overwrite=True)
    return settings


@pytest.fixture
def dataset(stack_blocks: Settings) -> DatasetConfig:
    """A fresh copy of the demo dataset under a unique name and model name, so tests do not share state."""
    name = f"credit-{uuid.uuid4().hex[:8]}"
    spec = demo_dataset()
    spec.model_name = f"credit-risk-{name}"
    spec.save(name, overwrite=True)
    return load_dataset(name)


def _changed_policy(
    block_type: type[PromotionPolicy] | type[DriftPolicy], name: str, dataset: DatasetConfig
) -> Iterator[Callable[..., DatasetConfig]]:
    """Change fields of a (global) policy block for one test; the saved policy comes back after."""
    before = load_block(block_type, name)

    def change(**fields: object) -> DatasetConfig:
        policy = before.model_copy(update=fields)
        block_type(**policy.model_dump(exclude={"block_type_slug"})).save(name, overwrite=True)
        return load_dataset(dataset.name)

    yield change
    before.save(name, overwrite=True)


@pytest.fixture
def promotion_policy(dataset: DatasetConfig) -> Iterator[Callable[..., DatasetConfig]]:
    """Change fields of the promotion policy for one test."""
    yield from _changed_policy(PromotionPolicy, names.PROMOTION_POLICY, dataset)


@pytest.fixture
def drift_policy(dataset: DatasetConfig) -> Iterator[Callable[..., DatasetConfig]]:
    """Change fields of the drift policy for one test."""
    yield from _changed_policy(DriftPolicy, names.DRIFT_POLICY, dataset)
