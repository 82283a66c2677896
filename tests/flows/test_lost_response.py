"""Fault case 07, a lost write response: the server makes a conditional write, and its answer never reaches driftloop.

A real proxy (tests/lossy_proxy.py) between the flows and the S3 server lets chosen `If-None-Match: *` PUTs through,
reads the server's answer and closes the connection instead of relaying it. Lose one answer and botocore resends the
PUT, which meets the object its first try wrote and is answered 412, inside the same `put_if_absent`; lose all three of
botocore's attempts and the Prefect task retry writes again, with a new body (a new `at`). Either way the writer must
recognise its own write (the batch metadata's source key, the ledger record's and history record's `writer`): one
batch, one ledger record saying `ingested`, one history record per decision, the alias moved, one announcement each and
the runs Completed; never a false `duplicate`, `already_handled` or `stale-champion`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from blocks import names
from blocks.models import StorageLocation
from blocks.settings import Settings
from deployments.watch.events import events_since, wait_for_events
from flows.ingest import ingest
from flows.promote import promote
from flows.train import train
from tasks.contracts.credit import generate
from tasks.data.ingest import IngestOutcome
from tasks.data.lake import batch_id_for, batch_key, landing_prefix, ledger_key, meta_key
from tasks.data.lake_index import list_batches
from tasks.model.champions import HistoryRecord
from tasks.model.history import history_prefix, read_log
from tasks.model.registry import champion_version
from tasks.platform import events
from tasks.platform.codec import parquet_bytes, sha256
from tasks.platform.config import DatasetConfig
from tests.batches import write_validated
from tests.chaos.invariants import Tally, tally
from tests.chaos_results import ChaosLog
from tests.lossy_proxy import LossyProxy, Request, conditional_put

pytestmark = [pytest.mark.fault, pytest.mark.integration]

CASE = "07 lost write response"
BOTOCORE_ATTEMPTS = 3  # tasks/platform/store.py: retries={"mode": "standard", "total_max_attempts": 3}
LINGER_SECONDS = 6  # one event persister flush: long enough for a doubled announcement to show up


@dataclass
class CaseRow:
    """The case's one row in the fault table, gathered over its tests: the faults, their tallies and the seconds
    spent by the runs that met the lost answers (their retries included)."""

    faults: list[str] = field(default_factory=list)
    found: Tally = field(default_factory=lambda: Tally(landed=0))
    seconds: float = 0.0

    def add(self, faults: str, found: Tally, seconds: float) -> None:
        self.faults.append(faults)
        self.found.landed += found.landed
        self.found.lost += found.lost
        self.found.duplicated += found.duplicated
        self.seconds += seconds


@pytest.fixture(scope="module")
def case_row(chaos_log: ChaosLog) -> Iterator[CaseRow]:
    row = CaseRow()
    yield row
    if row.faults:
        chaos_log.record(CASE, "; ".join(row.faults), row.found, row.seconds)


@pytest.fixture
def lossy(stack_blocks: Settings, s3_endpoint: str) -> Iterator[LossyProxy]:
    """A lossy proxy to the test S3 server, and the storage block pointed at it (so every flow's store goes through
    it) until the test ends; the `dataset` fixture's own store still talks to the server directly."""
    original = StorageLocation.load(names.STORAGE)
    with LossyProxy(s3_endpoint) as proxy:
        original.model_copy(update={"endpoint_url": proxy.endpoint}).save(names.STORAGE, overwrite=True)
        try:
            yield proxy
        finally:
            original.save(names.STORAGE, overwrite=True)


def lose(proxy: LossyProxy, bucket: str, key: str, count: int) -> Callable[[Request], bool]:
    """Arm the proxy to lose the answers to the next `count` conditional writes of `key`; the rule, to look up."""
    rule = conditional_put(bucket, key)
    proxy.lose_responses(rule, count)
    return rule


def announcements(kinds: list[str], resource_id: str, since: datetime, expected: int) -> list[str]:
    """The `kinds` of events about `resource_id` since `since` (as `event:id`), once `expected` arrived and a doubled
    one had time to follow."""
    wait_for_events(kinds, since, expected, where=lambda e: e.resource.id == resource_id)
    time.sleep(LINGER_SECONDS)
    return [f"{e.event}:{e.id}" for e in events_since(kinds, since) if e.resource.id == resource_id]


def test_an_ingest_whose_lake_and_ledger_write_answers_are_lost_ingests_once_and_completes(
    dataset: DatasetConfig, lossy: LossyProxy, case_row: CaseRow
) -> None:
    name, store = dataset.name, dataset.store
    body = parquet_bytes(generate(300, seed=70, start=datetime(2026, 6, 1)))
    key, batch_id = f"{landing_prefix(name)}lost-answers.parquet", batch_id_for(sha256(body))
    store.put(key, body)
    # the lake writes lose one answer (botocore's resend meets 412), the ledger record all of botocore's attempts
    # (settle's task retry writes a new record, and must know it for its own by the writer)
    losses = {batch_key(name, batch_id): 1, meta_key(name, batch_id): 1, ledger_key(name, key): BOTOCORE_ATTEMPTS}
    rules = [lose(lossy, store.bucket, written, count) for written, count in losses.items()]
    since = datetime.now(UTC)

    started = time.monotonic()
    state = ingest(dataset=name, return_state=True)
    seconds = time.monotonic() - started
    outcomes: list[IngestOutcome] = state.result(raise_on_failure=False)

    assert state.is_completed(), state.message
    assert state.message == "1 ingested, 0 quarantined, 0 failed, 0 duplicate, 0 already handled"
    assert len(lossy.lost) == sum(losses.values()) and lossy.armed == 0  # every armed answer really was lost
    for answers in map(lossy.answers_to, rules):  # each write made on its first try; every resend met it: 412
        assert answers[0] == 200 and set(answers[1:]) == {412}, answers
    (outcome,) = outcomes
    assert (outcome.key, outcome.outcome, outcome.batch_id) == (key, "ingested", batch_id)
    ledger = IngestOutcome.model_validate(store.get_json(ledger_key(name, key)))
    assert (ledger.outcome, ledger.writer) == ("ingested", outcome.writer)
    assert [meta.source_key for meta in list_batches(store, name)] == [key]
    assert store.list_keys(f"lake/{name}/batches/") == sorted([batch_key(name, batch_id), meta_key(name, batch_id)])
    assert len(store.list_keys(f"lake/{name}/ledger/")) == 1
    assert len(announcements([events.BATCH_INGESTED], f"driftloop.batch.{name}.{batch_id}", since, 1)) == 1
    found = tally(dataset, [key], since)
    case_row.add("ingest: lake data and meta write answers lost x1, ledger record x3", found, seconds)
    assert found.clean, found


def test_decisions_whose_history_record_answers_are_lost_are_recognised_by_their_writer_and_recorded_once(
    dataset: DatasetConfig, lossy: LossyProxy, case_row: CaseRow
) -> None:
    for seed in range(4):
        write_validated(dataset, seed, 2500)
    model = dataset.model_name
    first = train(dataset=dataset.name)
    since = datetime.now(UTC)
    # the promotion loses all of botocore's attempts: apply_decision's task retry writes a new record (a new `at`)
    promoting = lose(lossy, dataset.store.bucket, f"{history_prefix(model)}{1:08d}.json", BOTOCORE_ATTEMPTS)
    started = time.monotonic()
    promoted = promote(dataset=dataset.name, challenger_version=first)
    seconds = time.monotonic() - started

    assert (promoted.outcome, promoted.promoted) == ("promoted", True), promoted.reasons
    assert lossy.answers_to(promoting) == [200] + [412] * BOTOCORE_ATTEMPTS
    assert champion_version(dataset) == first

    # the same window trains the same model: a tie, rejected; the rejection's record loses one answer (append path)
    second = train(dataset=dataset.name)
    rejecting = lose(lossy, dataset.store.bucket, f"{history_prefix(model)}{2:08d}.json", 1)
    started = time.monotonic()
    rejected = promote(dataset=dataset.name, challenger_version=second)
    seconds += time.monotonic() - started

    assert rejected.outcome == "rejected" and any(r.startswith("lift:") for r in rejected.reasons), rejected.reasons
    assert lossy.answers_to(rejecting) == [200, 412] and len(lossy.lost) == BOTOCORE_ATTEMPTS + 1
    log = read_log(dataset)
    decisions = [(1, "promote", None, first), (2, "reject", first, second)]
    assert [(r.sequence, r.action, r.from_version, r.to_version) for r in log] == decisions
    assert champion_version(dataset) == first
    said = announcements([events.MODEL_PROMOTED, events.MODEL_REJECTED], f"driftloop.model.{model}", since, 2)
    assert len(said) == 2, said
    found = decision_tally(log, [("promote", first), ("reject", second)], said, champion_version(dataset), first)
    case_row.add("promote: history record write answer lost x3; reject: x1", found, seconds)
    assert found.clean, found


def decision_tally(
    log: list[HistoryRecord], decided: list[tuple[str, str]], said: list[str], alias: str | None, champion: str
) -> Tally:
    """Each decision recorded and the alias where they leave it, and no record or announcement twice. (`tally` would
    also require every lake batch scored and checked by the new champion, which this case never runs.)"""
    recorded = {(r.action, r.to_version) for r in log}
    found = Tally(landed=0, lost=[f"no history record of {a} v{v}" for a, v in decided if (a, v) not in recorded])
    if alias != champion:
        found.lost.append(f"champion alias at v{alias}, not v{champion}")
    writers = Counter(f"{r.action}:{r.writer}" for r in log)
    found.duplicated += [f"history record of decision {w} x{n}" for w, n in writers.items() if n > 1]
    kinds = Counter(event.split(":", 1)[0] for event in said)
    found.duplicated += [f"event {kind} x{n}" for kind, n in kinds.items() if n > 1]
    return found
