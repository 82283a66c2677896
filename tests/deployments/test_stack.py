"""The running local stack, checked over each component's real protocol (one stack for the whole session)."""

from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import requests
from mlflow.tracking import MlflowClient
from prefect._internal.result_records import ResultRecordMetadata
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect_aws import S3Bucket

from blocks import names
from blocks.models import DriftPolicy, StorageLocation
from blocks.register import BLOCK_TYPES, demo_dataset
from blocks.settings import PROJECT_ROOT, Settings
from deployments.stack import automations, postgres, status, worker
from deployments.stack.automations import ALERTS_BLOCK
from deployments.stack.environment import prefect_home
from deployments.stack.state import load_or_create_credentials
from deployments.stack.worker import WORKER_NAME
from deployments.watch.runs import wait_until
from flows.simulate import simulate
from tasks.platform.config import DatasetConfig, load_block, load_dataset
from tasks.platform.store import open_store
from tests.alerts import alerts_block, announce_checks, announce_rejection, drift, messages, receiver, skip_for_budget
from tests.stack_fixture import cli_environment, run_cli, run_python, stack_api

pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("stack")]

FLOWS = ("simulate", "ingest", "score", "monitor", "train", "promote", "retrain", "rollback", "reconcile")


def test_prefect_api_is_healthy_with_pool_worker_and_deployments(local_stack: Settings) -> None:
    assert requests.get(f"{local_stack.prefect_api_url}/health", timeout=5).json() is True
    with stack_api(local_stack), get_client(sync_client=True) as client:
        pool = client.read_work_pool(local_stack.work_pool)
        workers = client.read_workers_for_work_pool(local_stack.work_pool)
        deployments = client.read_deployments()
        flows = {flow.id: flow.name for flow in client.read_flows()}
    assert pool.type == "process"
    assert [worker.name for worker in workers] == [WORKER_NAME]
    assert workers[0].status.value == "ONLINE"
    deployed = {f"{flows[deployment.flow_id]}/{deployment.name}" for deployment in deployments}
    assert deployed == {f"{flow}/driftloop" for flow in FLOWS}
    assert all(deployment.work_pool_name == local_stack.work_pool for deployment in deployments)
    # Flow runs load the code from the project root (the pull step `prefect deploy` records).


def test_storage_block_reaches_the_bucket_with_generated_credentials(local_stack: Settings) -> None:
    with stack_api(local_stack):
        location = StorageLocation.load(names.STORAGE)
    assert location.credentials is not None
    assert location.endpoint_url == local_stack.resolved_s3_endpoint
    store = open_store(location)
    key = f"tests/{uuid.uuid4().hex}.txt"
    store.put(key, b"round trip")
    assert store.get(key) == b"round trip"
    assert location.bucket == local_stack.bucket


def test_mlflow_logs_a_run_and_proxies_its_artifact_into_the_bucket(local_stack: Settings) -> None:
    with stack_api(local_stack):
        client = MlflowClient(tracking_uri=local_stack.resolved_mlflow_uri)
        experiment_id = client.create_experiment(f"stack-{uuid.uuid4().hex[:8]}")
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "auc", 0.81)
        client.log_text(run.info.run_id, "artifact body", "notes/hello.txt")
        client.set_terminated(run.info.run_id)
        read = client.get_run(run.info.run_id)
        store = open_store(StorageLocation.load(names.STORAGE))
    assert read.data.metrics == {"auc": 0.81}
    assert read.info.status == "FINISHED"
    stored = [key for key in store.list_keys("mlflow/") if key.endswith(f"{run.info.run_id}/artifacts/notes/hello.txt")]
    assert len(stored) == 1
    assert store.get(stored[0]) == b"artifact body"


def test_block_types_are_in_the_catalogue_with_documented_fields(local_stack: Settings) -> None:
    with stack_api(local_stack), get_client(sync_client=True) as client:
        for block_class in BLOCK_TYPES:
            block_type = client.read_block_type_by_slug(block_class.get_block_type_slug())
            schema = client.get_most_recent_block_schema_for_block_type(block_type.id)
            assert block_type.description, block_class.__name__
            assert schema is not None
            properties = schema.fields["properties"]
            assert properties, block_class.__name__
            undocumented = [field for field, spec in properties.items() if not spec.get("description")]
            assert undocumented == [], f"{block_class.__name__}: {undocumented}"
        credentials = client.read_block_document_by_name(names.LOCAL_CREDENTIALS, "aws-credentials")
    assert credentials.data["aws_access_key_id"]


def test_the_server_keeps_its_state_in_postgres_where_installed(local_stack: Settings) -> None:
    query = "SELECT count(*) FROM deployment"
    bin_dir = postgres.bin_dir()
    if postgres.available() and bin_dir is not None:
        address = ["-h", local_stack.host, "-p", str(local_stack.postgres_port), "-U", postgres.OWNER]
        password = {"PGPASSWORD": load_or_create_credentials(local_stack.home).postgres_password}

        def ask(sql: str) -> str:
            psql = [str(bin_dir / "psql"), *address, "-d", postgres.DATABASE, "-tAc", sql]
            return subprocess.run(psql, capture_output=True, text=True, check=True, env=password).stdout.strip()

        count = int(ask(query))
        assert ask("SHOW synchronous_commit") == "on"  # a killed database keeps every commit it acknowledged
    else:
        with sqlite3.connect(Path(prefect_home(local_stack)) / "prefect.db") as database:
            count = database.execute(query).fetchone()[0]
    assert count == len(FLOWS)


def test_second_up_starts_nothing_and_keeps_every_pid(local_stack: Settings) -> None:
    before = {component.name: component.pid for component in status.status(local_stack)}
    again = run_cli(local_stack, "up")
    assert again.returncode == 0, again.stderr
    for name in status.components():
        assert f"{name}: already running, pid {before[name]}" in again.stdout
    assert {component.name: component.pid for component in status.status(local_stack)} == before
    assert "blocks: all default documents already exist" in again.stdout
    assert "automations: driftloop-crashed-runs unchanged" in again.stdout
    assert "EventsWorker" not in again.stdout + again.stderr  # every event reached the server before exit


def test_the_automations_file_is_applied_once_by_name(local_stack: Settings) -> None:
    with stack_api(local_stack), get_client(sync_client=True) as client:
        for automation in automations.declared():
            (applied,) = client.read_automations_by_name(automation.name)
            assert automations.comparable(applied) == automations.comparable(automation)
    (crashed,) = [a for a in automations.declared() if a.name == "driftloop-crashed-runs"]
    assert crashed.trigger.within.total_seconds() == 3 * worker.HEARTBEAT_SECONDS  # type: ignore[union-attr]


def test_status_reports_every_component_healthy(local_stack: Settings) -> None:
    result = run_cli(local_stack, "status")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(status.components())
    assert all(" healthy " in line for line in lines)
    assert f"http://{local_stack.host}:{local_stack.mlflow_port}" in result.stdout
    assert f"http://{local_stack.host}:{local_stack.serve_port}" in result.stdout


def test_the_stacks_model_server_answers_its_token_only(local_stack: Settings) -> None:
    url = f"http://{local_stack.host}:{local_stack.serve_port}"
    token = load_or_create_credentials(local_stack.home).serve_token
    predict = f"{url}/v1/datasets/no-such-dataset/predict"
    assert httpx.get(f"{url}/health").json() == {"status": "up"}
    assert httpx.post(predict, json={"records": [{}]}).status_code == 401
    assert httpx.post(predict, json={"records": [{}]}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{url}/metrics").status_code == 401
    known = httpx.post(predict, json={"records": [{}]}, headers={"Authorization": f"Bearer {token}"})
    assert known.status_code == 404 and "no dataset block named 'no-such-dataset'" in known.json()["detail"]


def test_no_deployment_carries_a_path_of_this_machine(local_stack: Settings) -> None:
    with stack_api(local_stack), get_client(sync_client=True) as client:
        deployments = client.read_deployments()
        code_dir = client.read_variable_by_name("driftloop_code_dir")
    assert deployments and code_dir is not None and code_dir.value == str(PROJECT_ROOT)
    wanted = [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ prefect.variables.driftloop_code_dir }}"}}
    ]
    assert all(d.pull_steps == wanted for d in deployments), [d.pull_steps for d in deployments]


def test_a_new_shell_that_knows_only_the_home_finds_the_stack_on_its_ports(local_stack: Settings) -> None:
    # the stack runs on free ports, not the defaults; this shell has no DRIFTLOOP_* variable but the home
    shell = {k: v for k, v in cli_environment(local_stack).items() if not k.startswith("DRIFTLOOP_")}
    shell["DRIFTLOOP_HOME"] = str(local_stack.home)
    said = {}
    for command in ("status", "env"):
        result = run_python(["-m", "deployments.cli", command], shell, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        said[command] = result.stdout
    assert "unhealthy" not in said["status"] and f":{local_stack.mlflow_port}" in said["status"]
    assert f"PREFECT_API_URL={local_stack.prefect_api_url}" in said["env"].replace("'", "").replace('"', "")


def test_the_scheduler_creates_the_safety_net_ingest_runs_for_every_dataset(local_stack: Settings) -> None:
    def scheduled() -> list[FlowRun]:
        with stack_api(local_stack), get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("ingest/driftloop")
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["SCHEDULED"]))
                ),
            )

    wait_until(lambda: bool(scheduled()), 90, "the scheduler to create ingest runs")
    assert {run.parameters["dataset"] for run in scheduled()} == {"*"}


def test_a_failed_runs_result_is_kept_in_the_bucket_not_on_the_workers_disk(local_stack: Settings) -> None:
    # an ingest of a key that never landed fails; Prefect persists its exception as the run's result
    missing = f"landing/{names.DEMO_DATASET}/never-landed-{uuid.uuid4().hex[:8]}.csv"
    with stack_api(local_stack):
        parameters = {"dataset": names.DEMO_DATASET, "key": missing}
        run = run_deployment("ingest/driftloop", parameters=parameters, timeout=300)
        assert run.state is not None and run.state.is_failed(), run.state
        error = run.state.result(raise_on_failure=False)  # read back through the result's storage block
        results = S3Bucket.load(names.RESULTS)
    record = run.state.data
    assert isinstance(record, ResultRecordMetadata) and record.storage_key is not None
    assert record.storage_block_id == results._block_document_id
    assert (results.bucket_name, results.bucket_folder) == (local_stack.bucket, "prefect-results")
    assert isinstance(error, Exception) and missing in str(error)


@pytest.mark.long  # two to three minutes of waiting on automations: `make chaos` plays it
def test_every_kind_of_alert_reaches_the_block_once_per_decision_with_links_that_open(local_stack: Settings) -> None:
    with receiver() as got, stack_api(local_stack):
        alerts_block(got.url)
        policy = load_block(DriftPolicy, names.DRIFT_POLICY)
        policy.model_copy(update={"alert_if_no_check_hours": 20 / 3600}).save(names.DRIFT_POLICY, overwrite=True)
        assert "driftloop-alert-run-failed created" in run_cli(local_stack, "up").stdout  # `up` applies them
        cfg = fresh_dataset()
        # one episode checked twice, a second episode, an unconfirmed drift (no alert); a rejection; a spent budget
        quiet = drift(cfg, "b9", "b9").model_copy(update={"confirmed": False, "episode_batches": ["b9"]})
        announce_checks([drift(cfg, "b2", "b1"), drift(cfg, "b3", "b1"), drift(cfg, "b8", "b7"), quiet])
        announce_rejection(cfg)
        skip_for_budget(cfg)
        # a bad object lands: the automation's ingest quarantines it, and the run fails (a person is needed)
        (bad,) = simulate(dataset=cfg.name, scenario="schema_break", batches=1, rows=200)
        failed = run_deployment("rollback/driftloop", parameters={"dataset": "no-such-dataset"}, timeout=300)
        assert failed.state is not None and failed.state.is_failed(), failed.state

        kinds = ["drift confirmed", "rejected", "budget spent", "quarantined", "ingest run", "rollback run"]
        kinds.append(f"no drift check of {cfg.model_name}")  # twenty seconds after its last check
        wait_until(lambda: all(messages(got, kind) for kind in kinds), 180, "every kind of alert")
        time.sleep(5)  # a second alert for a decision would arrive within the same few seconds
        once = {kind: {m["body"] for m in messages(got, kind)} for kind in kinds}
        with get_client(sync_client=True) as client:
            client.delete_block_document(client.read_block_document_by_name(ALERTS_BLOCK, "custom-webhook").id)
        policy.save(names.DRIFT_POLICY, overwrite=True)
        silenced = run_cli(local_stack, "up").stdout

    drifts = once["drift confirmed"]  # two episodes, each once; the unconfirmed one stays quiet
    assert len(drifts) == 2 and len([body for body in drifts if "(onset b1)" in body]) == 1, drifts
    (rejection,) = once["rejected"]
    assert "FAIL  min_lift: -0.01235 vs 0" in rejection and "champion v3 -> v4" in rejection
    assert len(once["budget spent"]) == 1 and len(once["quarantined"]) == 1
    (silent,) = once[f"no drift check of {cfg.model_name}"]
    assert f"(dataset {cfg.name})" in silent
    assert bad in next(iter(once["quarantined"])) and all(bad in body for body in once["ingest run"])
    (rollback,) = once["rollback run"]
    ui = f"http://{local_stack.host}:{local_stack.prefect_port}"
    link = f"{ui}/runs/flow-run/{failed.id}"
    assert link in rollback and "no-such-dataset" in rollback
    linked = [body for kind, bodies in once.items() if not kind.startswith("no drift check") for body in bodies]
    assert all(f"{ui}/runs/flow-run/" in body for body in linked)
    page = requests.get(link, headers={"Accept": "text/html"}, timeout=10)  # as a browser opens it
    assert page.status_code == 200 and page.text.lstrip().startswith("<!DOCTYPE html>")  # the UI's page for the run
    assert "driftloop-alert-run-failed off" in silenced  # no block: silence again


def fresh_dataset() -> DatasetConfig:
    """A copy of the demo dataset under a new name on the stack, so the session's other tests never see its batches."""
    name = f"alerts-{uuid.uuid4().hex[:6]}"
    spec = demo_dataset()
    spec.model_name = f"credit-risk-{name}"
    spec.save(name, overwrite=True)
    return load_dataset(name)
