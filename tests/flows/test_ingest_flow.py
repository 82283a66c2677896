"""The ingest flow against real S3 and a Prefect harness: lake or quarantine, exactly once, whatever happens."""

from __future__ import annotations

import io
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.objects import State
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from blocks import names
from blocks.models import DatasetSpec, StorageLocation
from flows.ingest import ingest
from flows.simulate import simulate
from tasks.contracts.credit import generate
from tasks.data.ingest import IngestOutcome, parse_object
from tasks.data.lake import failure_key, landing_prefix, quarantine_prefix
from tasks.data.lake_index import list_batches
from tasks.data.lake_io import read_batch
from tasks.data.steps import ingest as ingest_steps
from tasks.data.steps.pending import FULL_SWEEP_EVERY, sweep_key
from tasks.platform.artifacts import artifact_key
from tasks.platform.codec import json_bytes, parquet_bytes
from tasks.platform.config import EVERY_DATASET, DatasetConfig, load_dataset
from tasks.platform.errors import ConfigurationError, IngestFailures
from tasks.platform.events import BATCH_INGESTED, BATCH_QUARANTINED

pytestmark = pytest.mark.integration


def run_ingest(dataset: str, key: str = "") -> tuple[State[Any], list[IngestOutcome]]:
    state = ingest(dataset=dataset, key=key, return_state=True)
    result = state.result(raise_on_failure=False)
    return state, result.outcomes if isinstance(result, IngestFailures) else result


def poll_events(dataset: str, event: str, expected: int, linger: float = 0.0) -> list[Any]:
    """Events persist a few seconds after emission; poll until `expected` arrived (or ~15 s passed), then keep
    listening `linger` seconds more (one persister flush) so that an unwanted extra event would show up."""
    event_filter = EventFilter(
        event=EventNameFilter(name=[event]),
        resource=EventResourceFilter(id_prefix=[f"driftloop.batch.{dataset}."]),
    )
    deadline, events = time.monotonic() + 15, []
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=50).events
        if len(events) >= expected:
            break
        time.sleep(1)
    if linger:
        time.sleep(linger)
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=50).events
    return events


def test_good_batches_ingest_and_every_bad_scenario_is_quarantined(dataset: DatasetConfig) -> None:
    name, store = dataset.name, dataset.store
    good = simulate(dataset=name, scenario="baseline", batches=2, rows=300)
    bad = [
        k for s in ("schema_break", "quality_issue") for k in simulate(dataset=name, scenario=s, batches=3, rows=300)
    ]
    bad += simulate(dataset=name, scenario="corrupt_file", batches=2, rows=300)
    before = {k: store.get(k) for k in good + bad}

    state, outcomes = run_ingest(name)

    assert state.is_failed()
    by_key = {o.key: o for o in outcomes}
    assert {k for k, o in by_key.items() if o.outcome == "ingested"} == set(good)
    assert {k for k, o in by_key.items() if o.outcome == "quarantined"} == set(bad)
    assert state.message is not None and all(k in state.message for k in bad)
    assert sorted(m.source_key for m in list_batches(store, name)) == sorted(good)
    for key in bad:
        prefix = quarantine_prefix(name, by_key[key].batch_id)
        errors = store.get_json(prefix + "errors.json")
        assert errors["key"] == key and errors["failures"] >= 1 and errors["reason"]
        assert f"upload it under a new name: {key}" in errors["to_fix"]
        assert all({"check", "column", "count"} <= set(c) for c in errors["checks"])
        assert store.get(prefix + key.removeprefix(landing_prefix(name))) == before[key]
    assert {k: store.get(k) for k in before} == before  # landing untouched
    checks = {c["check"] for k in bad for c in store.get_json(by_key[k].errors_uri.split("/", 3)[3])["checks"]}  # type: ignore[union-attr]
    assert {"column_in_dataframe", "column_in_schema", "not_nullable", "field_uniqueness", "readable"} <= checks
    ingested = poll_events(name, BATCH_INGESTED, len(good))
    quarantined = poll_events(name, BATCH_QUARANTINED, len(bad))
    assert sorted(e.payload["key"] for e in ingested) == sorted(good)
    assert sorted(e.payload["key"] for e in quarantined) == sorted(bad)
    assert all(e.payload["failures"] >= 1 and e.payload["errors_uri"].startswith("s3://") for e in quarantined)
    with get_client(sync_client=True) as client:  # one key per dataset: a version per object accumulates under it
        key_filter = ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("ingest", name)]))
        versions = client.read_artifacts(artifact_filter=key_filter)
    assert sorted((v.description or "").split(":")[0] for v in versions) == sorted(f"ingest of {k}" for k in good + bad)


def test_same_bytes_twice_and_reruns_give_one_batch(dataset: DatasetConfig) -> None:
    name, store = dataset.name, dataset.store
    frame = generate(200, seed=5, start=datetime(2026, 2, 1))
    body = parquet_bytes(frame)
    first, second = (f"{landing_prefix(name)}copy-{i}.parquet" for i in (1, 2))
    store.put(first, body)
    store.put(second, body)

    state, outcomes = run_ingest(name)
    rerun, nothing = run_ingest(name)
    again, handled = run_ingest(EVERY_DATASET, key=second)  # the key names its dataset: no dataset needed

    assert state.is_completed()
    assert state.message == "1 ingested, 0 quarantined, 0 failed, 1 duplicate, 0 already handled"
    assert sorted(o.outcome for o in outcomes) == ["duplicate", "ingested"]
    duplicate = next(o for o in outcomes if o.outcome == "duplicate")
    assert duplicate.duplicate_of in {first, second} and duplicate.duplicate_of != duplicate.key
    assert rerun.is_completed() and nothing == []
    assert again.is_completed() and [o.outcome for o in handled] == ["already_handled"]
    assert len(list_batches(store, name)) == 1
    assert read_batch(store, name, duplicate.batch_id).equals(frame)
    assert len(poll_events(name, BATCH_INGESTED, 1, linger=6)) == 1


def test_the_sweep_starts_after_its_watermark_and_the_daily_full_sweep_finds_a_key_named_out_of_order(
    dataset: DatasetConfig,
) -> None:
    name, store = dataset.name, dataset.store

    def land(stem: str, seed: int) -> str:
        key = f"{landing_prefix(name)}{stem}.parquet"
        store.put(key, parquet_bytes(generate(100, seed=seed, start=datetime(2026, 3, 1))))
        return key

    day1, day2 = land("2026-03-01", 1), land("2026-03-02", 2)
    _, first = run_ingest(name)
    assert [o.key for o in first] == [day1, day2]
    _, nothing = run_ingest(name)  # the watermark follows what was settled when a sweep began: one sweep behind
    assert nothing == [] and store.get_json(sweep_key(name))["after"] == day2

    # a new object after the watermark is found; one named before it, whose event was lost, waits for the full sweep
    day3, late = land("2026-03-03", 3), land("2026-02-28-resent", 4)
    _, second = run_ingest(name)
    assert [o.key for o in second] == [day3]
    mark = store.get_json(sweep_key(name))
    yesterday = datetime.fromisoformat(mark["full_at"]) - FULL_SWEEP_EVERY
    store.put(sweep_key(name), json_bytes(mark | {"full_at": yesterday.isoformat()}))
    _, full = run_ingest(name)
    assert [o.key for o in full] == [late]
    _, settled = run_ingest(name)
    assert settled == [] and store.get_json(sweep_key(name))["after"] == day3


def test_iso_timestamp_strings_are_typed_and_uncoercible_text_is_a_named_failure(dataset: DatasetConfig) -> None:
    name, store = dataset.name, dataset.store
    frame = generate(200, seed=7, start=datetime(2026, 5, 1))
    iso = frame.with_columns(pl.col("applied_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    typed, bad = f"{landing_prefix(name)}iso-times.parquet", f"{landing_prefix(name)}ages.csv"
    store.put(typed, parquet_bytes(iso))
    store.put(bad, _csv(frame.with_columns(frame["age"].cast(pl.String).scatter([5, 150], "n/a"))))

    state, outcomes = run_ingest(name)

    assert state.is_failed() and bad in (state.message or "") and typed not in (state.message or "")
    by_key = {o.key: o for o in outcomes}
    assert (by_key[typed].outcome, by_key[typed].rows) == ("ingested", 200)
    assert read_batch(store, name, by_key[typed].batch_id).equals(frame)  # datetimes in the lake, not text
    meta = list_batches(store, name)[0]
    assert (meta.event_time_min, meta.event_time_max) == (frame["applied_at"].min(), frame["applied_at"].max())
    assert by_key[bad].outcome == "quarantined" and (by_key[bad].reason or "").startswith("contract violation")
    errors = store.get_json(quarantine_prefix(name, by_key[bad].batch_id) + "errors.json")
    assert [(c["check"], c["column"], c["count"]) for c in errors["checks"]] == [("coerce_dtype('Int64')", "age", 2)]
    assert [(s["failure_case"], s["index"]) for s in errors["samples"]] == [("n/a", 5), ("n/a", 150)]


def test_concurrent_ingests_of_one_object_write_one_batch_and_one_event(dataset: DatasetConfig) -> None:
    name, store = dataset.name, dataset.store
    key = f"{landing_prefix(name)}race.parquet"
    store.put(key, parquet_bytes(generate(300, seed=9, start=datetime(2026, 3, 1))))
    results: list[list[IngestOutcome]] = []
    threads = [threading.Thread(target=lambda: results.append(run_ingest(name, key)[1])) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    outcomes = sorted(o.outcome for batch in results for o in batch)
    assert outcomes == ["already_handled", "already_handled", "ingested"]
    assert len(list_batches(store, name)) == 1
    assert len(store.list_keys(f"lake/{name}/ledger/")) == 1
    assert len(poll_events(name, BATCH_INGESTED, 1, linger=6)) == 1


def test_bring_your_own_dataset_from_a_csv(stack_blocks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"byo_contract_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(BYO_CONTRACT)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"sensors-{uuid.uuid4().hex[:6]}"
    DatasetSpec(
        contract=f"{module}:Reading",
        target="faulty",
        id_column="reading_id",
        event_time_column="read_at",
        model_name=f"sensors-{name}",
    ).save(name, overwrite=True)
    store = load_dataset(name).store
    frame = pl.DataFrame(
        {
            "reading_id": [f"r{i}" for i in range(6)],
            "read_at": [f"2026-05-0{i + 1} 10:00:00" for i in range(6)],
            "temperature": [20.5, 21.0, 19.5, 22.0, 80.0, 20.0],
            "faulty": [0, 0, 0, 1, 1, None],
        }
    )
    good, bad = f"{landing_prefix(name)}good.csv", f"{landing_prefix(name)}hot.csv"
    store.put(good, _csv(frame.head(4)))
    store.put(bad, _csv(frame))

    # the scheduled ingest (`*`: every dataset block) finds the new dataset: no flow or deployment edit
    state, outcomes = run_ingest(EVERY_DATASET)

    assert state.is_failed() and bad in (state.message or "")
    by_key = {o.key: o for o in outcomes}
    assert (by_key[good].outcome, by_key[good].rows, by_key[good].labelled_rows) == ("ingested", 4, 4)
    meta = list_batches(store, name)[0]
    assert meta.event_time_max == datetime(2026, 5, 4, 10)
    errors = store.get_json(quarantine_prefix(name, by_key[bad].batch_id) + "errors.json")
    assert [(c["column"], c["count"]) for c in errors["checks"]] == [("temperature", 1)]


def test_a_poison_object_fails_alone_is_retried_after_its_backoff_then_quarantined(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, store = dataset.name, dataset.store
    keys = simulate(dataset=name, scenario="baseline", batches=3, rows=300)
    poison = keys[1]

    def parse_or_panic(key: str, body: bytes) -> pl.DataFrame:
        if key == poison:
            raise pl.exceptions.PanicException("boom")  # a BaseException: it used to end the whole run
        return parse_object(key, body)

    monkeypatch.setattr(ingest_steps, "parse_object", parse_or_panic)
    state, outcomes = run_ingest(name)
    by_key = {o.key: o for o in outcomes}
    assert [by_key[k].outcome for k in keys] == ["ingested", "failed", "ingested"]  # the objects after it go on
    assert by_key[poison].attempts == 1 and by_key[poison].reason == "PanicException: boom"
    assert state.is_failed() and f"Failed {poison} (1 of 3 attempts, next after" in (state.message or "")
    assert run_ingest(name)[1] == []  # the sweep leaves it alone while its backoff lasts

    for _ in range(2):  # the backoff is over: tried again, and after the third failure quarantined with the error
        record = store.get_json(failure_key(name, poison))
        store.put(failure_key(name, poison), json_bytes(record | {"next_attempt_at": "2000-01-01T00:00:00Z"}))
        state, outcomes = run_ingest(name)
    (last,) = outcomes
    assert last.outcome == "quarantined" and last.attempts == 3
    assert last.reason == "poison object: ingest failed 3 times; last error: PanicException: boom"
    errors = store.get_json(quarantine_prefix(name, last.batch_id) + "errors.json")
    assert [c["check"] for c in errors["checks"]] == ["ingest_attempts"]
    assert run_ingest(name)[1] == [] and len(list_batches(store, name)) == 2


def test_an_object_the_store_will_not_hand_out_is_quarantined_without_a_copy_after_its_third_failure(
    dataset: DatasetConfig,
) -> None:
    name, store = dataset.name, dataset.store
    # sealed with a customer key (SSE-C): every plain GET is refused, with a 400, for good
    sealed = f"{landing_prefix(name)}sealed.parquet"
    body = parquet_bytes(generate(100, seed=21, start=datetime(2026, 3, 1)))
    customer_key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": secrets.token_bytes(32)}
    store.client.put_object(Bucket=store.bucket, Key=sealed, Body=body, **customer_key)  # type: ignore[arg-type]

    for attempt in (1, 2, 3):
        state, (outcome,) = run_ingest(name)
        if attempt < 3:
            assert outcome.outcome == "failed" and outcome.attempts == attempt and state.is_failed()
            record = store.get_json(failure_key(name, sealed))
            store.put(failure_key(name, sealed), json_bytes(record | {"next_attempt_at": "2000-01-01T00:00:00Z"}))
    assert outcome.outcome == "quarantined" and outcome.attempts == 3, outcome
    assert outcome.reason is not None and "poison object: ingest failed 3 times" in outcome.reason
    prefix = quarantine_prefix(name, outcome.batch_id)
    assert store.get_json(prefix + "errors.json")["key"] == sealed
    assert store.list_keys(prefix) == [prefix + "errors.json"]  # no copy of what could not be read
    assert run_ingest(name)[1] == []  # settled: never retried again


def test_a_dataset_whose_contract_no_longer_imports_is_skipped_and_named_while_the_others_ingest(
    dataset: DatasetConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # saved while its contract imported (a save refuses one that does not); then the module went away
    broken, module = f"broken-{uuid.uuid4().hex[:6]}", f"gone_contract_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(BYO_CONTRACT)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = DatasetSpec(contract=f"{module}:Reading", target="faulty", id_column="reading_id", model_name=broken)
    spec.save(broken, overwrite=True)
    (tmp_path / f"{module}.py").unlink()
    monkeypatch.delitem(sys.modules, module)
    try:
        (key,) = simulate(dataset=dataset.name, scenario="baseline", batches=1, rows=300)
        state, outcomes = run_ingest(EVERY_DATASET)
    finally:
        DatasetSpec.delete(broken)
    assert {o.key: o.outcome for o in outcomes}[key] == "ingested"
    assert state.is_failed() and f"Skipped dataset {broken!r}: ConfigurationError" in (state.message or "")


BYO_CONTRACT = """
import pandera.polars as pa
import polars as pl


class Reading(pa.DataFrameModel):
    reading_id: str = pa.Field(unique=True)
    read_at: pl.Datetime = pa.Field()
    temperature: float = pa.Field(ge=-40, le=60)
    faulty: pl.Int64 = pa.Field(isin=[0, 1], nullable=True)

    class Config:
        strict = True
        coerce = True
"""


def _csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


class FlakyProxy:
    """A loopback TCP proxy to the S3 endpoint that drops every connection for `outage` seconds, starting when the
    first request matching `trigger` goes through it (so the outage always hits the same step of the ingest)."""

    def __init__(self, upstream: str, trigger: bytes, outage: float) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.trigger, self.outage = trigger, outage
        self.down_until = 0.0
        self.fired = False
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.live: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                self.dropped += 1
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            self.live |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_client and not self.fired and self.trigger in chunk:
                    self._go_down()
                    return
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                sock.close()

    def _go_down(self) -> None:
        self.fired, self.down_until = True, time.monotonic() + self.outage
        for sock in list(self.live):
            sock.close()
        self.live.clear()

    def close(self) -> None:
        self.listener.close()


@contextmanager
def storage_through(endpoint: str) -> Iterator[None]:
    """Point the shared storage block at `endpoint` for the duration, then restore it."""
    original = StorageLocation.load(names.STORAGE)
    original.model_copy(update={"endpoint_url": endpoint}).save(names.STORAGE, overwrite=True)
    try:
        yield
    finally:
        original.save(names.STORAGE, overwrite=True)


def test_an_s3_outage_mid_ingest_is_retried_and_loses_or_doubles_nothing(dataset: DatasetConfig) -> None:
    name, store = dataset.name, dataset.store
    keys = [f"{landing_prefix(name)}outage-{i}.parquet" for i in range(2)]
    for i, key in enumerate(keys):
        store.put(key, parquet_bytes(generate(300, seed=20 + i, start=datetime(2026, 4, 1))))
    proxy = FlakyProxy(store.client.meta.endpoint_url, trigger=f"/lake/{name}/batches/".encode(), outage=3.0)
    try:
        with storage_through(proxy.endpoint):
            started = time.monotonic()
            state, outcomes = run_ingest(name)
            elapsed = time.monotonic() - started
    finally:
        proxy.close()

    assert proxy.fired and proxy.dropped > 0 and elapsed >= 3.0
    assert state.is_completed(), state.message
    assert sorted(o.outcome for o in outcomes) == ["ingested", "ingested"]
    assert sorted(m.source_key for m in list_batches(store, name)) == keys
    assert len(store.list_keys(f"lake/{name}/batches/")) == 4  # data + meta per batch, nothing doubled
    assert len(store.list_keys(f"lake/{name}/ledger/")) == 2


def test_an_unknown_key_is_answered_with_what_is_under_the_landing_prefix(dataset: DatasetConfig) -> None:
    landed = f"{landing_prefix(dataset.name)}there.parquet"
    dataset.store.put(landed, parquet_bytes(generate(50, seed=9, start=datetime(2026, 3, 1))))
    with pytest.raises(ConfigurationError, match=rf"no object at '.*nowhere.parquet'; under .*: {landed}$"):
        ingest(dataset=dataset.name, key=f"{landing_prefix(dataset.name)}nowhere.parquet")
    assert list_batches(dataset.store, dataset.name) == []  # nothing ingested, nothing recorded


def test_a_fix_uploaded_under_the_quarantined_key_is_not_read_and_the_run_says_to_use_a_new_name(
    dataset: DatasetConfig,
) -> None:
    name, store = dataset.name, dataset.store
    (key,) = simulate(dataset=name, scenario="schema_break", batches=1, rows=300)
    assert run_ingest(name, key)[1][0].outcome == "quarantined"
    (good,) = simulate(dataset=name, scenario="baseline", batches=1, rows=300, seed=5)
    store.put(key, store.get(good))  # the producer "fixes" the file in place

    state, (outcome,) = run_ingest(name, key)

    assert outcome.outcome == "already_handled" and outcome.changed_since
    assert state.is_failed() and f"Not read again {key}: ledger says quarantined" in (state.message or "")
    assert "upload the fix under a new name" in (state.message or "")
    assert [meta.source_key for meta in list_batches(store, name)] == []  # nothing ingested from the changed key
    assert run_ingest(name, good)[1][0].outcome == "ingested"  # under a name of their own the good bytes go in
    unchanged = run_ingest(name, good)[1][0]
    assert unchanged.outcome == "already_handled" and not unchanged.changed_since  # a replay of an unchanged key
