"""No one in uninvited: each service of the running stack refuses a client without the generated credentials and
serves one with them, over its own protocol."""

from __future__ import annotations

import stat
import subprocess
import uuid

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from blocks.settings import Settings
from deployments.stack import postgres
from deployments.stack.state import LocalCredentials, load_or_create_credentials

pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("stack")]


@pytest.fixture(scope="module")
def credentials(local_stack: Settings) -> LocalCredentials:
    return load_or_create_credentials(local_stack.home)


def test_prefect_api_needs_the_auth_string(local_stack: Settings, credentials: LocalCredentials) -> None:
    url = f"{local_stack.prefect_api_url}/version"
    assert requests.get(url, timeout=10).status_code == 401
    user, password = credentials.prefect_auth.split(":", 1)
    assert requests.get(url, auth=(user, "wrong"), timeout=10).status_code == 401
    assert requests.get(url, auth=(user, password), timeout=10).status_code == 200
    # A state-changing call from a browser page or a script without the CSRF token is refused even with the string.
    filtered = requests.post(f"{local_stack.prefect_api_url}/flows/filter", json={}, auth=(user, password), timeout=10)
    assert filtered.status_code == 403
    preflight = requests.options(
        f"{local_stack.prefect_api_url}/flows/filter",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in {key.lower() for key in preflight.headers}


def test_mlflow_needs_the_admin_login(local_stack: Settings, credentials: LocalCredentials) -> None:
    url = f"{local_stack.resolved_mlflow_uri}/api/2.0/mlflow/experiments/search"
    body = {"max_results": 1}
    assert requests.post(url, json=body, timeout=10).status_code == 401
    assert requests.post(url, json=body, auth=(credentials.mlflow_username, "wrong"), timeout=10).status_code == 401
    login = (credentials.mlflow_username, credentials.mlflow_password)
    assert requests.post(url, json=body, auth=login, timeout=10).status_code == 200


def _s3(local_stack: Settings, key_id: str, secret: str, signed: bool = True) -> object:
    return boto3.client(
        "s3",
        endpoint_url=local_stack.resolved_s3_endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name=local_stack.region,
        config=Config(s3={"addressing_style": "path"}, **({} if signed else {"signature_version": UNSIGNED})),
    )


def test_s3_needs_the_generated_keys(local_stack: Settings, credentials: LocalCredentials) -> None:
    key = f"tests/{uuid.uuid4().hex}"
    for client in (
        _s3(local_stack, credentials.access_key_id, "wrong-secret"),
        _s3(local_stack, "UNKNOWNKEY", credentials.secret_access_key),
        _s3(local_stack, "x", "x", signed=False),
    ):
        with pytest.raises(ClientError) as refused:
            client.put_object(Bucket=local_stack.bucket, Key=key, Body=b"x")  # type: ignore[attr-defined]
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    good = _s3(local_stack, credentials.access_key_id, credentials.secret_access_key)
    good.put_object(Bucket=local_stack.bucket, Key=key, Body=b"x")  # type: ignore[attr-defined]


def test_the_database_refuses_anyone_without_the_password(local_stack: Settings, credentials: LocalCredentials) -> None:
    bin_dir = postgres.bin_dir()
    if not postgres.available() or bin_dir is None:
        # Without PostgreSQL the server's database is a SQLite file in the home, which only its user may enter.
        assert stat.S_IMODE(local_stack.home.stat().st_mode) == 0o700
        assert (local_stack.home / "prefect" / "prefect.db").is_file()
        return
    address = ["-h", local_stack.host, "-p", str(local_stack.postgres_port), "-U", postgres.OWNER]
    psql = [str(bin_dir / "psql"), *address, "-d", postgres.DATABASE, "-w", "-tAc", "select 1"]
    refused = subprocess.run(psql, capture_output=True, text=True, env={"PGPASSWORD": "wrong"}, check=False)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    nothing = subprocess.run(psql, capture_output=True, text=True, env={}, check=False)
    assert nothing.returncode != 0 and "no password supplied" in nothing.stderr
    served = subprocess.run(
        psql, capture_output=True, text=True, env={"PGPASSWORD": credentials.postgres_password}, check=False
    )
    assert served.stdout.strip() == "1", served.stderr
