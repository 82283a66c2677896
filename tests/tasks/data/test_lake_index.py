"""The lake index (head and pages) agrees with the batches' metadata, the truth: after concurrent ingests, after a
crash between the data and the index writes, and after `reindex`. On the real S3 server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tasks.contracts.credit import generate
from tasks.data import lake_index, lake_io
from tasks.data.ingest import batch_meta
from tasks.data.lake import BatchIndex, BatchMeta, PageBody, batch_id_for, batch_key, check_key, index_key, meta_key
from tasks.monitoring.confirmation import confirmed_onset, parse_marks
from tasks.platform.codec import json_bytes, parquet_bytes, sha256
from tasks.platform.config import DatasetConfig

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)


def new_batch(cfg: DatasetConfig, seed: int) -> tuple[BatchMeta, bytes]:
    frame = generate(50, seed, datetime(2024, 1, 1))
    body = parquet_bytes(frame)
    key = f"landing/{cfg.name}/b-{seed}.parquet"
    at = START + timedelta(minutes=seed)
    return batch_meta(cfg.name, key, sha256(body), batch_id_for(sha256(body)), frame, cfg.columns, at), body


def head_ids(cfg: DatasetConfig) -> list[str]:
    return [meta.batch_id for meta in head_of(cfg).batches]


def truth(cfg: DatasetConfig) -> list[str]:
    return [meta.batch_id for meta in lake_index.list_batches(cfg.store, cfg.name)]


def test_every_batch_of_sixteen_concurrent_ingests_is_in_the_head_in_ingest_order(dataset: DatasetConfig) -> None:
    batches = [new_batch(dataset, seed) for seed in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda batch: lake_io.write_batch(dataset.store, *batch), batches))
    assert head_ids(dataset) == truth(dataset) == [meta.batch_id for meta, _ in batches]
    assert lake_index.recent_batches(dataset.store, dataset.name) == lake_index.list_batches(
        dataset.store, dataset.name
    )


def test_sixteen_concurrent_ingests_into_a_small_head_are_each_in_the_head_or_one_page(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_index(monkeypatch)
    batches = [new_batch(dataset, seed) for seed in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda batch: lake_io.write_batch(dataset.store, *batch), batches))
    paged = [batch_id for page in paged_ids(dataset) for batch_id in page]
    assert sorted([*paged, *head_ids(dataset)]) == sorted(truth(dataset))  # each once: none lost, none twice
    whole = lake_index.recent_batches(dataset.store, dataset.name, count=16)
    assert [m.batch_id for m in whole] == truth(dataset) == [meta.batch_id for meta, _ in batches]


def test_a_crash_between_data_and_index_is_made_good_by_the_retry_or_by_reindex(dataset: DatasetConfig) -> None:
    written = [lake_io.write_batch(dataset.store, *new_batch(dataset, seed)) for seed in range(3)]
    # the process died after the batch's data and metadata, before its index write
    meta, body = new_batch(dataset, 3)
    dataset.store.put_if_absent(batch_key(dataset.name, meta.batch_id), body)
    dataset.store.put_if_absent(meta_key(dataset.name, meta.batch_id), json_bytes(meta.model_dump(mode="json")))
    assert head_ids(dataset) == [m.batch_id for m in written] != truth(dataset)

    # ingest's retry (no ledger record was written) writes the batch again: nothing new, and the index catches up
    assert lake_io.write_batch(dataset.store, meta, body) == meta
    assert head_ids(dataset) == truth(dataset)

    # the same crash again, made good by reindex instead
    late, late_body = new_batch(dataset, 4)
    dataset.store.put_if_absent(meta_key(dataset.name, late.batch_id), json_bytes(late.model_dump(mode="json")))
    dataset.store.put_if_absent(batch_key(dataset.name, late.batch_id), late_body)
    rebuilt = lake_index.reindex(dataset.store, dataset.name)
    assert [m.batch_id for m in rebuilt.batches] == head_ids(dataset) == truth(dataset) and not rebuilt.truncated


def test_a_lake_from_before_the_index_gets_its_head_on_first_read(dataset: DatasetConfig) -> None:
    for seed in range(3):
        lake_io.write_batch(dataset.store, *new_batch(dataset, seed))
    dataset.store.client.delete_object(Bucket=dataset.store.bucket, Key=index_key(dataset.name))
    assert [m.batch_id for m in lake_index.recent_batches(dataset.store, dataset.name)] == truth(dataset)
    assert head_ids(dataset) == truth(dataset)


def small_index(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pages read from here on (their keys): a head of 3 to 4 batches, pages of 2."""
    monkeypatch.setattr(lake_index, "HEAD_CAPACITY", 3)
    monkeypatch.setattr(lake_index, "PAGE_SIZE", 2)
    read: list[str] = []
    page = lake_index._page
    monkeypatch.setattr(lake_index, "_page", lambda store, at: read.append(at.key) or page(store, at))
    return read


def paged_ids(cfg: DatasetConfig) -> list[list[str]]:
    """The batch ids of each page, oldest page first, walked back from the head's newest page."""
    pages, page = [], head_of(cfg).newest_page
    while page is not None:
        body = PageBody.model_validate(cfg.store.get_json(page.key))
        pages.insert(0, [meta.batch_id for meta in body.batches])
        page = body.previous
    return pages


def head_of(cfg: DatasetConfig) -> BatchIndex:
    return BatchIndex.model_validate(cfg.store.get_json(index_key(cfg.name)))


def test_the_head_keeps_the_newest_and_a_window_reaching_further_back_reads_a_page_per_two(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages_read = small_index(monkeypatch)
    for seed in range(9):
        lake_io.write_batch(dataset.store, *new_batch(dataset, seed))
    every = truth(dataset)
    assert head_ids(dataset) == every[-3:] and head_of(dataset).truncated
    assert paged_ids(dataset) == [every[0:2], every[2:4], every[4:6]]

    def read(onset: str = "", count: int = 0) -> tuple[list[str], int]:
        pages_read.clear()
        batches = lake_index.recent_batches(dataset.store, dataset.name, onset_batch_id=onset, count=count)
        return [m.batch_id for m in batches], len(pages_read)

    assert read(onset=every[6]) == (every[-3:], 0)  # the onset is in the head: one read
    assert read(onset=every[3]) == (every[2:], 2)  # two pages back, not the whole history
    assert read(count=3) == (every[-3:], 0)
    assert read(count=5) == (every[4:], 1)
    assert read(onset=every[0]) == (every, 3)
    assert lake_io.newest_batch_ids(dataset.store, dataset.name, 2) == [every[8], every[7]]


def test_reindex_builds_the_same_head_and_pages_and_a_head_from_before_pages_is_rebuilt_once(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages_read = small_index(monkeypatch)
    for seed in range(7):
        lake_io.write_batch(dataset.store, *new_batch(dataset, seed))
    ingested = head_of(dataset)
    assert lake_index.reindex(dataset.store, dataset.name) == ingested == head_of(dataset)

    # a head written before pages existed: the newest three, and no word of where the older ones are
    legacy = BatchIndex(dataset=dataset.name, capacity=3, truncated=True, batches=ingested.batches[-3:])
    dataset.store.put(index_key(dataset.name), json_bytes(legacy.model_dump(mode="json")))
    assert [m.batch_id for m in lake_index.recent_batches(dataset.store, dataset.name, count=7)] == truth(dataset)
    assert head_of(dataset) == ingested and len(pages_read) == 2  # rebuilt with its pages, then read them


def test_a_head_from_before_pages_is_paged_by_its_first_seal_only_if_it_never_dropped_a_batch() -> None:
    def meta(i: int) -> BatchMeta:
        at = START + timedelta(minutes=i)
        return BatchMeta(
            dataset="d", batch_id=f"b{i}", source_key=f"k{i}", sha256="0", rows=1, labelled_rows=1, ingested_at=at
        )

    def grown(index: BatchIndex, first: int, last: int) -> BatchIndex:
        for i in range(first, last):
            added = index.with_batch(meta(i))
            assert added is not None
            index = added[0]
        return index

    whole = grown(BatchIndex(dataset="d", capacity=3, page_size=2), 0, 5)  # never dropped a batch
    assert whole.truncated and whole.paged
    dropped = grown(BatchIndex(dataset="d", capacity=3, page_size=2, truncated=True), 10, 15)
    assert dropped.truncated and not dropped.paged  # what it dropped is in no page: rebuilt on first read


def test_an_ingest_whose_batch_a_rebuild_of_the_head_already_sealed_indexes_it_once(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_index(monkeypatch)
    metas = [new_batch(dataset, seed)[0] for seed in range(7)]
    for meta in metas:  # seven ingests wrote their metadata; none has indexed it yet, and there is no head
        dataset.store.put_if_absent(meta_key(dataset.name, meta.batch_id), json_bytes(meta.model_dump(mode="json")))
    lake_index.index_batch(dataset.store, metas[0])  # the first to get there builds the head: 0-3 go into pages
    for meta in metas:
        lake_index.index_batch(dataset.store, meta)  # then each ingest indexes its own batch
    whole = lake_index.recent_batches(dataset.store, dataset.name, count=100)  # the head and every page
    assert [m.batch_id for m in whole] == truth(dataset) == [m.batch_id for m in metas]


def mark(cfg: DatasetConfig, hours_ago: int, verdict: str, now: datetime) -> str:
    meta = BatchMeta(
        dataset=cfg.name,
        batch_id=f"h{hours_ago:05d}",
        source_key=f"landing/{cfg.name}/h{hours_ago:05d}.parquet",
        sha256="0" * 64,
        rows=10,
        labelled_rows=10,
        ingested_at=now - timedelta(hours=hours_ago),
    )
    key = check_key(cfg.name, cfg.model_name, 1, meta, verdict)
    cfg.store.put(key, b"")
    return key


def test_the_check_marks_read_are_the_lookbacks_unless_an_episode_reaches_back_before_it(
    dataset: DatasetConfig,
) -> None:
    now = datetime.now(UTC)
    horizon = int(lake_io.CHECKS_LOOKBACK.total_seconds()) // 3600
    old = [mark(dataset, hours, "quiet", now) for hours in range(horizon + 240, horizon, -24)]
    recent = [mark(dataset, hours, "quiet" if hours % 48 else "drifted", now) for hours in range(horizon - 24, 0, -24)]
    read = lake_io.check_marks(dataset.store, dataset.name, dataset.model_name, 1, now)
    assert sorted(read) == recent and recent[0].endswith(".quiet")  # the lookback's marks, none of the older ones

    reaching = [mark(dataset, hours, "drifted", now) for hours in (horizon + 12, horizon - 12)]  # across the lookback
    read = lake_io.check_marks(dataset.store, dataset.name, dataset.model_name, 1, now)
    assert sorted(read) == sorted([*old, *recent, *reaching])
    assert confirmed_onset(parse_marks(list(read)), confirm_batches=2) == f"h{horizon + 12:05d}"  # where it began
