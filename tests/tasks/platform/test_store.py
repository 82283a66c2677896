"""The store against a real S3 endpoint: conditional writes never overwrite, listings are complete."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from blocks.models import StorageLocation
from blocks.settings import Settings
from deployments.stack.s3_server import requests_answered
from tasks.model.attempts import attempt_starts, attempts_prefix
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import InsecureStore
from tasks.platform.store import CONFLICT_PAUSES_SECONDS, PROBE_PREFIX, Store, forget_clients, open_store

pytestmark = pytest.mark.integration


def test_put_if_absent_writes_once(dataset: DatasetConfig) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/once.txt"
    assert store.put_if_absent(key, b"first") is True
    assert store.put_if_absent(key, b"second") is False
    assert store.get(key) == b"first"


def conflicting(monkeypatch: pytest.MonkeyPatch, store: Store, key: str, times: int = 1) -> list[str]:
    """Answer the next `times` PUTs of `key` with S3's 409 for a concurrent conditional write, sending nothing;
    return what each PUT of `key` met."""
    real_put = store.client.put_object
    answered: list[str] = []

    def put(**kwargs: Any) -> Any:
        if kwargs["Key"] != key:
            return real_put(**kwargs)
        if len(answered) < times:
            answered.append("409")
            error = {"Code": "ConditionalRequestConflict", "Message": "A conflicting operation is in progress."}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 409}}, "PutObject")
        answered.append("sent")
        return real_put(**kwargs)

    monkeypatch.setattr(store.client, "put_object", put)
    return answered


def test_a_conflicting_conditional_write_is_sent_again(dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/conflict.txt"
    answered = conflicting(monkeypatch, store, key)
    assert store.put_if_absent(key, b"mine") is True
    assert answered == ["409", "sent"] and store.get(key) == b"mine"


def test_a_conflict_that_the_other_write_won_settles_as_taken(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/taken.txt"
    assert store.put_if_absent(key, b"theirs") is True
    answered = conflicting(monkeypatch, store, key)
    assert store.put_if_absent(key, b"mine") is False
    assert answered == ["409", "sent"] and store.get(key) == b"theirs"


def test_a_conflict_that_does_not_settle_is_raised_after_a_few_tries(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/stuck.txt"
    answered = conflicting(monkeypatch, store, key, times=100)
    with pytest.raises(ClientError, match="ConditionalRequestConflict"):
        store.put_if_absent(key, b"mine")
    assert answered == ["409"] * (len(CONFLICT_PAUSES_SECONDS) + 1)
    assert not store.exists(key)


def test_list_keys_pages_through_everything(dataset: DatasetConfig) -> None:
    store = dataset.store
    for i in range(1005):
        store.put(f"test/{dataset.name}/many/{i:05d}", b"x")
    keys = store.list_keys(f"test/{dataset.name}/many/")
    assert len(keys) == 1005 and keys[0].endswith("00000")


def test_a_budget_listing_starts_at_the_period_and_misses_no_attempt_in_it(dataset: DatasetConfig) -> None:
    model = f"model-{dataset.name}"
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    ages_hours = [200, 30, 24.01, 24, 23.99, 1, 0]  # started this long before `now`
    for n, hours in enumerate(ages_hours):
        started = int((now - timedelta(hours=hours)).timestamp())
        dataset.store.put(f"{attempts_prefix(model)}{started:012d}-{n}-1", b"")
    within = attempt_starts(dataset.store, model, since=now - timedelta(hours=24))
    assert [round((now - at).total_seconds() / 3600, 2) for at in within] == [24, 23.99, 1, 0]


def test_get_json_if_exists_tells_a_missing_key_from_a_present_one(dataset: DatasetConfig) -> None:
    store = dataset.store
    key = f"test/{dataset.name}/record.json"
    assert store.get_json_if_exists(key) is None
    store.put(key, b'{"a": 1}')
    assert store.get_json_if_exists(key) == {"a": 1}


def test_stores_of_one_location_share_one_client_until_forgotten(dataset: DatasetConfig) -> None:
    first = open_store(dataset.storage)
    assert open_store(dataset.storage).client is first.client
    other = open_store(dataset.storage.model_copy(update={"region": "eu-west-1"}))
    assert other.client is not first.client and other.storage_options["aws_region"] == "eu-west-1"
    forget_clients()
    assert open_store(dataset.storage).client is not first.client


def test_the_s3_servers_metrics_count_the_requests_it_answers(settings: Settings, dataset: DatasetConfig) -> None:
    before = requests_answered(settings)
    for n in range(3):
        dataset.store.put(f"test/{dataset.name}/counted-{n}", b"")
    assert requests_answered(settings) - before >= 3


def test_the_probe_passes_on_the_stack_store_and_leaves_nothing(dataset: DatasetConfig) -> None:
    dataset.store.check_conditional_writes()
    assert dataset.store.list_keys(PROBE_PREFIX) == []


class _IgnoresConditions(BaseHTTPRequestHandler):
    """An S3 endpoint that stores nothing and accepts every PUT, If-None-Match or not: what the probe must refuse."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_store_that_ignores_conditional_writes_is_refused_by_name(aws_env: dict[str, str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IgnoresConditions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        store = open_store(StorageLocation(bucket="lenient", endpoint_url=endpoint))
        with pytest.raises(InsecureStore, match=rf"object store at {endpoint} \(bucket 'lenient'\) accepted a second"):
            store.put_if_absent("lake/credit/ledger/x.json", b"{}")
    finally:
        server.shutdown()
        server.server_close()
