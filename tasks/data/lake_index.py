"""The lake index: the newest batches' metadata in one head object, the older ones in sealed pages.

The index head (`lake/<dataset>/index/head.json`, tasks.data.lake.BatchIndex) holds the newest HEAD_CAPACITY or more
batches for runs that look at the recent lake: one read instead of a listing and a read per batch ever ingested;
older ones are sealed into pages of PAGE_SIZE, read one at a time, newest first, only by a window that reaches back
that far. A batch joins the head right after its metadata is written and before ingest's ledger record, so a crash in
between is made good by the retry the missing ledger record causes; `reindex` rebuilds the head and its pages from
the metadata, which stays the truth.
"""

from __future__ import annotations

from typing import Any

from tasks.data.lake import BatchIndex, BatchMeta, IndexPage, PageBody, index_key
from tasks.platform import versioned
from tasks.platform.codec import json_bytes
from tasks.platform.store import Store

HEAD_CAPACITY = 128  # four months of daily batches, five days of hourly ones; about 45 kB of JSON
PAGE_SIZE = 64  # a page is sealed each 64 batches: the head holds 128 to 191, and a window reads a page per 64 beyond


def index_batch(store: Store, meta: BatchMeta) -> None:
    """Add a written batch to the index head (compare-and-set; nothing changes if it is there already)."""

    def added(head: Any | None) -> Any | None:
        index = _head_or_rebuilt(store, meta.dataset, head)
        grown = _with_batch(store, index, meta)
        return (grown or index).model_dump(mode="json") if grown or head is None else None

    versioned.update(store, index_key(meta.dataset), added)


def recent_batches(store: Store, dataset: str, onset_batch_id: str = "", count: int = 0) -> list[BatchMeta]:
    """The newest batches, oldest first: the index head (one read), and as many of its pages, newest first, as it
    takes to reach back to `onset_batch_id` and to hold at least `count`. A lake from before the index, or from
    before its pages, gets them built here, once."""
    head, _ = versioned.read(store, index_key(dataset))
    index = BatchIndex.model_validate(head) if head is not None else None
    if index is None or (index.truncated and not index.paged):
        index = reindex(store, dataset)
    batches, page = index.batches, index.newest_page
    while page and (len(batches) < count or (onset_batch_id and all(m.batch_id != onset_batch_id for m in batches))):
        body = _page(store, page)
        batches, page = [*body.batches, *batches], body.previous
    unique = {meta.batch_id: meta for meta in batches}  # were a batch ever in a page and the head, it counts once
    return sorted(unique.values(), key=lambda m: (m.ingested_at, m.batch_id))


def reindex(store: Store, dataset: str) -> BatchIndex:
    """Rebuild the index head and its pages from every batch's metadata (`driftloop reindex`); the rebuilt head
    replaces the old one whatever it held, and a batch ingested meanwhile is kept."""
    rebuilt = _rebuilt(store, dataset)

    def replaced(head: Any | None) -> Any | None:
        index = rebuilt
        for meta in BatchIndex.model_validate(head).batches if head is not None else []:
            index = _with_batch(store, index, meta) or index
        return index.model_dump(mode="json")

    return BatchIndex.model_validate(versioned.update(store, index_key(dataset), replaced))


def _with_batch(store: Store, index: BatchIndex, meta: BatchMeta) -> BatchIndex | None:
    """`index` with `meta` added, None if it holds it already; a page it seals is written first, so a head never
    names a page that is not there."""
    added = index.with_batch(meta)
    if added is None or _sealed(store, index, meta):
        return None
    grown, body = added
    if body is not None and grown.newest_page is not None:
        store.put_if_absent(grown.newest_page.key, json_bytes(body.model_dump(mode="json")))
    return grown


def _sealed(store: Store, index: BatchIndex, meta: BatchMeta) -> bool:
    """True if a page holds `meta`. Pages are read newest first only while they reach as late as its ingest time, so
    a batch newer than every page (nearly all of them) costs no read. An older one can arrive: a concurrent ingest
    that took its time, or a batch a rebuild of the head sealed while its own ingest was still to index it."""
    page = index.newest_page
    while page is not None and page.newest >= meta.ingested_at:
        body = _page(store, page)
        if any(known.batch_id == meta.batch_id for known in body.batches):
            return True
        page = body.previous
    return False


def _page(store: Store, page: IndexPage) -> PageBody:
    return PageBody.model_validate(store.get_json(page.key))


def _head_or_rebuilt(store: Store, dataset: str, head: Any | None) -> BatchIndex:
    return BatchIndex.model_validate(head) if head is not None else _rebuilt(store, dataset)


def _rebuilt(store: Store, dataset: str) -> BatchIndex:
    index = BatchIndex(dataset=dataset, capacity=HEAD_CAPACITY, page_size=PAGE_SIZE, paged=True)
    for meta in list_batches(store, dataset):
        index = _with_batch(store, index, meta) or index
    return index


def list_batches(store: Store, dataset: str) -> list[BatchMeta]:
    """Every validated batch of `dataset`, oldest first (by ingest time, then id): a listing and a read per batch,
    so only for rebuilding the index."""
    keys = [k for k in store.list_keys(f"lake/{dataset}/batches/") if k.endswith("/meta.json")]
    metas = [BatchMeta.model_validate(store.get_json(k)) for k in keys]
    return sorted(metas, key=lambda m: (m.ingested_at, m.batch_id))
