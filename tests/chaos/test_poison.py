"""A poison object among good ones, on the real stack: an object whose ingest fails unexpectedly and every time
(not a contract violation or an unreadable file, which are verdicts) fails alone, is tried again by the scheduled
sweep once its backoff is over, and after its third failure is quarantined with the error; nothing else waits.

The poison is real, not patched in: a parquet file whose first data page header counts one value more than the page
holds, on which polars 2.1's reader panics (a PanicException, a BaseException) instead of raising an error. A second
case lands an object written with a customer-provided encryption key (SSE-C), which the store refuses to hand out
to a plain GET: ingest cannot even read it, and it must still end quarantined.

The objects land without events, as a producer that cannot emit one leaves them: the scheduled sweep (`ingest` with
`dataset="*"`, as its schedule runs it) is what finds them. The real backoff is 5 then 10 minutes; the case makes
it due by rewriting the failure record, as the in-process test does. `make chaos` runs these on a stack of their own.
"""

from __future__ import annotations

import io
import secrets
import time
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
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

from blocks.settings import Settings
from deployments.watch.runs import wait_until
from tasks.contracts.credit import generate
from tasks.data import failures, lake
from tasks.data.lake_index import list_batches
from tasks.platform.codec import json_bytes, parquet_bytes
from tasks.platform.config import EVERY_DATASET, DatasetConfig
from tests.chaos.invariants import ACTIVE, recover, settle, tally
from tests.chaos_results import ChaosLog
from tests.durable_fixture import champion_dataset

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.stack,
    pytest.mark.xdist_group("stack"),
    # Three sweeps, the scoring and monitoring of twenty batches, reconcile; the first case also builds the stack.
    pytest.mark.timeout(1800),
]

ROWS = 1500
DUE = "2000-01-01T00:00:00Z"
# A sweep of the schedule's own racing one of the case's would try the poison twice at once and count two attempts.
SCHEDULE_CLEARANCE = timedelta(minutes=3)


def _varint(value: int) -> bytes:
    """Thrift compact protocol's unsigned varint."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def panicking_parquet(seed: int) -> bytes:
    """A good batch whose first data page header (Thrift compact: struct field 5 `data_page_header`, then its field 1
    `num_values`, a zigzag varint) claims one value more than the page holds. Both counts fit the same varint length,
    so every offset in the footer stays right and only the page decoder finds out: it panics."""
    body = bytearray(parquet_bytes(generate(ROWS, seed, datetime(2024, 3, 1))))
    page = pq.ParquetFile(io.BytesIO(bytes(body))).metadata.row_group(0).column(0).data_page_offset
    told, lie = b"\x2c\x15" + _varint(2 * ROWS), b"\x2c\x15" + _varint(2 * (ROWS + 1))
    at = body.index(told, page)
    assert len(lie) == len(told) and at < page + 16, (page, at)  # the header's own field, not a value in the page
    body[at : at + len(told)] = lie
    return bytes(body)


def land_quietly(cfg: DatasetConfig, name: str, body: bytes) -> str:
    """Put an object under landing/ without announcing it, as a producer that cannot emit an event does."""
    key = f"{lake.landing_prefix(cfg.name)}{name}"
    cfg.store.put(key, body)
    return key


def land_good(cfg: DatasetConfig, seeds: range) -> list[str]:
    return [
        land_quietly(cfg, f"good-{seed}.parquet", parquet_bytes(generate(ROWS, seed, datetime(2024, 3, 1))))
        for seed in seeds
    ]


def clear_of_the_schedule() -> None:
    """Return once no scheduled sweep is due within SCHEDULE_CLEARANCE, waiting for one that is to run first."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ingest/driftloop")
    active = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE)))
    of_ingest = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))

    def clear() -> bool:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=active, deployment_filter=of_ingest, limit=50)
        horizon = datetime.now(UTC) + SCHEDULE_CLEARANCE
        return not [r for r in runs if r.expected_start_time is None or r.expected_start_time < horizon]

    wait_until(clear, SCHEDULE_CLEARANCE.total_seconds() + 600, "the scheduled sweep due soon to run", poll=5)


def sweep() -> FlowRun:
    """One run of the scheduled sweep over every dataset; it ends Failed while an object fails or is quarantined.
    Call `clear_of_the_schedule` first, before anything the sweep is to find: its run, created now, goes before a
    scheduled one due later, but not before one due already."""
    run = run_deployment("ingest/driftloop", parameters={"dataset": EVERY_DATASET}, timeout=900)
    assert run.state is not None and run.state.is_final(), run.state
    return run


def failure_of(cfg: DatasetConfig, key: str) -> failures.IngestFailure | None:
    record = cfg.store.get_json_if_exists(lake.failure_key(cfg.name, key))
    return None if record is None else failures.IngestFailure.model_validate(record)


def make_due(cfg: DatasetConfig, key: str) -> None:
    """End the poison's backoff now (the real one is 5, then 10 minutes), once no scheduled sweep could take the
    attempt meant for the case's own."""
    clear_of_the_schedule()
    record = cfg.store.get_json(lake.failure_key(cfg.name, key))
    cfg.store.put(lake.failure_key(cfg.name, key), json_bytes(record | {"next_attempt_at": DUE}))


def hold(cfg: DatasetConfig, key: str) -> None:
    """Put the poison's next attempt a day away, so that no scheduled sweep takes it while the case waits."""
    record = cfg.store.get_json(lake.failure_key(cfg.name, key))
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cfg.store.put(lake.failure_key(cfg.name, key), json_bytes(record | {"next_attempt_at": later}))


def outcome_of(cfg: DatasetConfig, key: str) -> str | None:
    ledger = cfg.store.get_json_if_exists(lake.ledger_key(cfg.name, key))
    return None if ledger is None else str(ledger["outcome"])


@pytest.fixture(scope="module")
def poisoned(api: Settings) -> DatasetConfig:
    """The cases' own dataset, with a champion so that what they ingest is scored and monitored."""
    return champion_dataset("credit-poison", "credit-risk-poison", seed=500)


def test_a_panicking_object_fails_alone_then_is_retried_after_its_backoff_and_quarantined(
    poisoned: DatasetConfig, chaos_log: ChaosLog
) -> None:
    cfg = poisoned
    clear_of_the_schedule()
    since, began = datetime.now(UTC), time.monotonic()
    good = land_good(cfg, range(510, 530))
    poison = land_quietly(cfg, "poison-530.parquet", panicking_parquet(530))

    first = sweep()
    assert first.state is not None and first.state.is_failed(), first.state
    assert f"Failed {poison} (1 of 3 attempts" in (first.state.message or ""), first.state.message
    assert "PanicException" in (first.state.message or ""), first.state.message
    assert {key: outcome_of(cfg, key) for key in good} == dict.fromkeys(good, "ingested")  # none waited for it
    failed = failure_of(cfg, poison)
    assert failed is not None and failed.attempts == 1 and failed.error.startswith("PanicException"), failed
    assert outcome_of(cfg, poison) is None
    hold(cfg, poison)  # the wait below can outlast the backoff: only the case's own sweeps may try it again
    settle(cfg.name, timeout=1200)  # the automations score and monitor the twenty batches: forty runs on two cores

    for attempt in (2, 3):
        make_due(cfg, poison)
        run = sweep()
        assert run.state is not None and run.state.is_failed(), run.state
        record = failure_of(cfg, poison)
        assert record is not None and record.attempts == attempt, record
    ledger = cfg.store.get_json(lake.ledger_key(cfg.name, poison))
    assert ledger["outcome"] == "quarantined" and ledger["attempts"] == 3, ledger
    assert ledger["reason"].startswith("poison object: ingest failed 3 times; last error: PanicException"), ledger
    errors = cfg.store.get_json(lake.quarantine_prefix(cfg.name, ledger["batch_id"]) + "errors.json")
    assert [check["check"] for check in errors["checks"]] == ["ingest_attempts"]
    assert ledger["batch_id"] not in {meta.batch_id for meta in list_batches(cfg.store, cfg.name)}

    recover(cfg)
    recovery_seconds = time.monotonic() - began
    found = tally(cfg, [*good, poison], since)
    chaos_log.record("08 poison object", "1 panicking parquet among 20 good objects, swept", found, recovery_seconds)
    assert found.clean, found


def test_an_object_the_store_will_not_hand_out_fails_alone_and_is_quarantined_after_its_third_failure(
    poisoned: DatasetConfig, chaos_log: ChaosLog
) -> None:
    cfg = poisoned
    clear_of_the_schedule()
    since, began = datetime.now(UTC), time.monotonic()
    good = land_good(cfg, range(550, 553))
    # Written with a customer-provided key (SSE-C): the store answers a GET without that key with 400
    # InvalidArgument, every time. Not transient, so not retried; not a verdict on the bytes, which no one can read.
    sealed = f"{lake.landing_prefix(cfg.name)}sealed-553.parquet"
    body = parquet_bytes(generate(ROWS, 553, datetime(2024, 3, 1)))
    cfg.store.client.put_object(
        Bucket=cfg.store.bucket,
        Key=sealed,
        Body=body,
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=secrets.token_bytes(32),
    )

    sweep()
    assert {key: outcome_of(cfg, key) for key in good} == dict.fromkeys(good, "ingested")
    failed = failure_of(cfg, sealed)
    assert failed is not None and failed.attempts == 1 and "InvalidArgument" in failed.error, failed
    settle(cfg.name)
    for _ in range(2):
        make_due(cfg, sealed)
        sweep()

    recover(cfg)
    recovery_seconds = time.monotonic() - began
    found = tally(cfg, [*good, sealed], since)
    faults = "1 SSE-C object among 3 good objects, swept"
    chaos_log.record("08b unreadable poison object", faults, found, recovery_seconds)
    ledger = cfg.store.get_json_if_exists(lake.ledger_key(cfg.name, sealed))
    assert ledger is not None and ledger["outcome"] == "quarantined", (ledger, failure_of(cfg, sealed))
    assert ledger["reason"].startswith("poison object: ingest failed 3 times; last error: ClientError"), ledger
    assert found.clean, found
