"""The `driftloop` CLI and the stack's failure paths: taken ports, a bad endpoint, `down`, `--purge`."""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

import psutil
import pytest

from blocks.settings import PROJECT_ROOT, Settings
from deployments.cli import build_parser
from deployments.stack import environment, postgres, prefect_server, services, status
from deployments.stack.state import load_or_create_credentials, pid_file, prepare_home
from tests.stack_fixture import new_stack_settings, run_cli

# Some tests start parts of a stack: they share a worker with the other whole-stack tests, one stack at a time.
pytestmark = pytest.mark.xdist_group("stack")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _recorded(settings: Settings, component: str) -> int:
    return int(pid_file(settings.home, component).read_text().split('"pid": ')[1].split(",")[0])


def test_parser_knows_up_down_status() -> None:
    parser = build_parser()
    assert parser.parse_args(["down", "--purge"]).purge is True
    assert parser.parse_args(["up", "--redeploy"]).redeploy is True
    assert parser.parse_args(["status"]).command == "status"
    with pytest.raises(SystemExit):
        parser.parse_args(["sideways"])


def test_credentials_are_random_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_credentials(tmp_path / "a")
    assert first == load_or_create_credentials(tmp_path / "a")
    other = load_or_create_credentials(tmp_path / "b")
    assert set(first.secrets()).isdisjoint(other.secrets())
    assert all(len(secret) >= 24 for secret in first.secrets())  # MLflow refuses admin passwords under 12
    assert stat.S_IMODE((tmp_path / "a" / "credentials.json").stat().st_mode) == 0o600
    assert not any(secret in repr(first) for secret in first.secrets())


def test_a_home_gains_missing_secrets_and_keeps_the_ones_it_has(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text('{"access_key_id": "KEEP", "secret_access_key": "kept-secret"}')
    credentials = load_or_create_credentials(tmp_path)
    assert (credentials.access_key_id, credentials.secret_access_key) == ("KEEP", "kept-secret")
    assert credentials.prefect_auth.startswith("driftloop:") and credentials.postgres_password
    assert load_or_create_credentials(tmp_path) == credentials


def test_environment_replaces_ambient_prefect_and_aws_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:1/api")
    monkeypatch.setenv("PREFECT_API_KEY", "ambient")
    settings = new_stack_settings(tmp_path)
    env = environment.stack_environment(settings)
    assert env["PREFECT_API_URL"] == settings.prefect_api_url
    assert "PREFECT_API_KEY" not in env
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect")
    assert env["AWS_ENDPOINT_URL_S3"] == env["MLFLOW_S3_ENDPOINT_URL"] == settings.resolved_s3_endpoint
    assert env["DRIFTLOOP_MLFLOW_PORT"] == str(settings.mlflow_port)


def test_env_prints_shell_exports_for_the_stack(tmp_path: Path) -> None:
    settings = new_stack_settings(tmp_path)
    printed = run_cli(settings, "env")
    assert printed.returncode == 0, printed.stderr
    exported = dict(line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines())
    assert list(exported) == list(environment.SHELL_VARIABLES)
    assert exported["PREFECT_API_URL"] == settings.prefect_api_url
    credentials = load_or_create_credentials(tmp_path)
    assert exported["AWS_ACCESS_KEY_ID"] == credentials.access_key_id
    assert exported["PREFECT_API_AUTH_STRING"] == credentials.prefect_auth
    assert exported["MLFLOW_TRACKING_PASSWORD"] == credentials.mlflow_password
    assert exported["DRIFTLOOP_SERVE_TOKEN"] == credentials.serve_token and len(credentials.serve_token) >= 32
    assert exported["MLFLOW_TRACKING_URI"] == settings.resolved_mlflow_uri  # no userinfo: clients print the URI
    assert exported["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_the_stack_binds_to_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        new_stack_settings(tmp_path, host="0.0.0.0")
    assert new_stack_settings(tmp_path, host="0.0.0.0", expose_beyond_loopback=True).host == "0.0.0.0"


def test_deploy_fingerprint_follows_prefect_yaml_and_flows(tmp_path: Path) -> None:
    settings = new_stack_settings(tmp_path / "home")
    (tmp_path / "flows").mkdir()
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    (tmp_path / "flows" / "a.py").write_text("x = 1\n")
    before = prefect_server.deploy_fingerprint(tmp_path, settings)
    assert before == prefect_server.deploy_fingerprint(tmp_path, settings)
    (tmp_path / "flows" / "a.py").write_text("x = 2\n")
    assert prefect_server.deploy_fingerprint(tmp_path, settings) != before


def test_status_without_a_stack_fails_and_lists_components(tmp_path: Path) -> None:
    result = run_cli(new_stack_settings(tmp_path / "home"), "status")
    assert result.returncode == 1
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [[name, "not"] for name in status.components()]


def test_purge_refuses_a_directory_up_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_cli(new_stack_settings(tmp_path), "down", "--purge")
    assert result.returncode == 1
    assert "refusing" in result.stderr
    assert (tmp_path / "precious.txt").exists()


@pytest.mark.stack
def test_taken_port_fails_naming_mlflow_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        settings = new_stack_settings(tmp_path / "home", mlflow_port=blocker.getsockname()[1])
        result = run_cli(settings, "up")
    assert result.returncode == 1
    assert "mlflow: port" in result.stderr
    assert "DRIFTLOOP_MLFLOW_PORT" in result.stderr
    assert list((settings.home / "run").iterdir()) == []


@pytest.mark.stack
def test_bad_endpoint_names_s3_and_down_stops_what_started(tmp_path: Path) -> None:
    closed = services.free_port()
    settings = new_stack_settings(tmp_path / "home", s3_endpoint_url=f"http://127.0.0.1:{closed}")
    result = run_cli(settings, "up")
    assert result.returncode == 1
    assert f"s3: cannot create bucket 'driftloop-stack' at http://127.0.0.1:{closed}" in result.stderr
    assert "s3.log" in result.stderr
    pids = {name: _recorded(settings, name) for name in ("s3", "mlflow", "prefect")}
    assert all(_running(pid) for pid in pids.values())

    stopped = run_cli(settings, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert "s3: stopped" in stopped.stdout
    assert not any(_running(pid) for pid in pids.values())
    assert all(services.port_is_free(settings.host, port) for port in (settings.s3_port, settings.mlflow_port))
    assert (settings.home / "credentials.json").exists()

    purged = run_cli(settings, "down", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not settings.home.exists()
    assert not postgres.data_dir(settings).exists()


def test_prepare_home_marks_it_private(tmp_path: Path) -> None:
    prepare_home(tmp_path / "home")
    assert stat.S_IMODE((tmp_path / "home" / "run").stat().st_mode) == 0o700


def test_the_readme_lists_every_driftloop_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`DRIFTLOOP_{name.upper()}`" not in readme]
    assert missing == []


def test_approve_takes_a_flow_run_id_a_reason_and_an_optional_reject() -> None:
    run = "5f0c6b1e-2d8a-4f61-9a57-0c2b9e7d4a10"
    parsed = build_parser().parse_args(["approve", run, "--reject", "--reason", "launch freeze"])
    assert (str(parsed.flow_run), parsed.reject, parsed.reason) == (run, True, "launch freeze")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["approve", "not-a-run-id", "--reason", "x"])
