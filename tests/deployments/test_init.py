"""`driftloop init` prepares an empty Prefect server (production) so that every flow finds the blocks it loads."""

from __future__ import annotations

import pytest

from blocks.settings import process_environment
from tests.stack_fixture import run_python

pytestmark = pytest.mark.integration

# A fresh, empty server of its own: the session's test server already holds the blocks `init` would save.
ON_AN_EMPTY_SERVER = """
from prefect.testing.utilities import prefect_test_harness

with prefect_test_harness(server_startup_timeout=120):
    from blocks import names
    from blocks.models import DriftPolicy, MlflowTracking, PromotionPolicy, StorageLocation
    from deployments.cli import main

    arguments = ["init", "--bucket", "models-prod", "--mlflow-uri", "https://mlflow.example.org"]
    arguments += ["--region", "eu-west-1"]
    assert main(arguments) == 0
    storage, mlflow = StorageLocation.load(names.STORAGE), MlflowTracking.load(names.MLFLOW)
    DriftPolicy.load(names.DRIFT_POLICY), PromotionPolicy.load(names.PROMOTION_POLICY)
    print("LOADED", storage.bucket, storage.endpoint_url, storage.region, mlflow.tracking_uri)
    from prefect_aws import S3Bucket

    results = S3Bucket.load(names.RESULTS)  # Prefect's result storage, PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK
    print("RESULTS", results.bucket_name, results.bucket_folder, results.credentials.aws_client_parameters.endpoint_url)
    assert main(arguments) == 0  # a second init keeps what is there
"""


def test_init_on_an_empty_server_saves_every_block_the_flows_load() -> None:
    environment = {k: v for k, v in process_environment().items() if not k.startswith(("PREFECT_", "DRIFTLOOP_"))}
    done = run_python(["-c", ON_AN_EMPTY_SERVER], environment, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LOADED models-prod None eu-west-1 https://mlflow.example.org" in done.stdout
    assert "RESULTS models-prod prefect-results None" in done.stdout
    # crash detection on, notifications off until a block named driftloop-alerts exists
    assert "automations: driftloop-crashed-runs created" in done.stdout
    assert "driftloop-alert-drift off (no notification block named driftloop-alerts)" in done.stdout
    assert "EventsWorker" not in done.stdout + done.stderr  # the saves' events reached the server before exit
    assert "saved: driftloop-storage" in done.stdout and "saved: nothing (every block exists" in done.stdout
