"""The object-store layout (DESIGN §4): every key driftloop writes, and the metadata of a validated batch. Pure."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel


class BatchMeta(BaseModel):
    """What the lake knows about one validated batch; written once beside its data."""

    dataset: str
    batch_id: str
    source_key: str
    sha256: str
    rows: int
    labelled_rows: int
    ingested_at: datetime
    event_time_min: datetime | None = None
    event_time_max: datetime | None = None


class IndexPage(BaseModel):
    """Where a sealed page of the index lies, and the ingest times of its oldest and newest batch."""

    key: str
    oldest: datetime
    newest: datetime


class PageBody(BaseModel):
    """A sealed page: `page_size` batches' metadata, oldest first, and where the page sealed before it lies."""

    previous: IndexPage | None
    batches: list[BatchMeta]


class BatchIndex(BaseModel):
    """The lake index's head: the newest `capacity` to `capacity + page_size - 1` batches' metadata, oldest first, in
    one small object, so a run finds the recent lake in one read however long the history. Each time it reaches
    `capacity + page_size`, its oldest `page_size` batches are sealed into a page object of their own, written once
    and never changed; `newest_page` says where the last one lies, and each page where the one before it does. A
    window reaching back further reads one more page per `page_size` batches, never the whole history, and the head
    stays the same size however many pages there are. `truncated`: older batches exist beyond the head; `paged`:
    they are all in its pages (a head written before pages existed is not, and is rebuilt once). The batches'
    metadata beside each batch stays the truth; `driftloop reindex` rebuilds head and pages from it."""

    dataset: str
    capacity: int
    page_size: int = 64
    truncated: bool = False
    paged: bool = False
    newest_page: IndexPage | None = None
    batches: list[BatchMeta] = []

    def with_batch(self, meta: BatchMeta) -> tuple[BatchIndex, PageBody | None] | None:
        """The index with `meta` added in ingest order, and the page it sealed (none most times); None if the head
        holds `meta` (whether a page does is for the caller to read). The page's key derives from its batches and
        the page before it, so every writer that seals the same batches onto the same chain writes the same object."""
        if any(known.batch_id == meta.batch_id for known in self.batches):
            return None
        ordered = sorted([*self.batches, meta], key=lambda m: (m.ingested_at, m.batch_id))
        if len(ordered) < self.capacity + self.page_size:
            return self.model_copy(update={"batches": ordered}), None
        body = PageBody(previous=self.newest_page, batches=ordered[: self.page_size])
        oldest, newest = body.batches[0].ingested_at, body.batches[-1].ingested_at
        page = IndexPage(key=page_key(self.dataset, body), oldest=oldest, newest=newest)
        kept = ordered[self.page_size :]
        paged = self.paged or not self.truncated  # a head that never dropped a batch: its pages hold all older ones
        return self.model_copy(update={"batches": kept, "newest_page": page, "truncated": True, "paged": paged}), body


def page_key(dataset: str, body: PageBody) -> str:
    named = [body.previous.key if body.previous else "", *(meta.batch_id for meta in body.batches)]
    digest = hashlib.sha256(" ".join(named).encode()).hexdigest()[:16]
    return f"lake/{dataset}/index/pages/{body.batches[0].ingested_at:%Y%m%dT%H%M%S%f}-{digest}.json"


def landing_prefix(dataset: str) -> str:
    return f"landing/{dataset}/"


def batch_id_for(content_sha256: str) -> str:
    """A batch id derives from the content hash, so the same bytes are one batch wherever they landed."""
    return content_sha256[:20]


def batch_key(dataset: str, batch_id: str) -> str:
    return f"lake/{dataset}/batches/{batch_id}/data.parquet"


def meta_key(dataset: str, batch_id: str) -> str:
    return f"lake/{dataset}/batches/{batch_id}/meta.json"


def ledger_key(dataset: str, source_key: str) -> str:
    return f"lake/{dataset}/ledger/{_source_hash(source_key)}.json"


def failure_key(dataset: str, source_key: str) -> str:
    """Where the unexpected failures of ingesting one landed object are counted (see tasks.data.failures)."""
    return f"lake/{dataset}/failures/{_source_hash(source_key)}.json"


def _source_hash(source_key: str) -> str:
    return hashlib.sha256(source_key.encode()).hexdigest()[:32]


def quarantine_prefix(dataset: str, batch_id: str) -> str:
    return f"quarantine/{dataset}/{batch_id}/"


def index_key(dataset: str) -> str:
    return f"lake/{dataset}/index/head.json"


def predictions_key(dataset: str, model_version: str, batch_id: str) -> str:
    return f"predictions/{dataset}/{model_version}/{batch_id}.parquet"


def scoring_health_key(dataset: str, model_version: str, batch_id: str) -> str:
    """Beside the predictions: how the version's scoring of the batch went (rows it failed, latency)."""
    return f"predictions/{dataset}/{model_version}/{batch_id}.health.json"


def report_prefix(dataset: str, kind: str, report_id: str) -> str:
    return f"reports/{dataset}/{kind}/{report_id}/"


def drift_check_prefix(dataset: str, batch_id: str, version: str) -> str:
    """Where one drift check of a batch against one champion version keeps its summary.json and report.html."""
    return report_prefix(dataset, "drift", f"{batch_id}-v{version}")


def checks_prefix(dataset: str, model: str, tenure: int) -> str:
    """Where monitoring marks every checked batch of a champion's tenure with its verdict (one empty object each)."""
    return f"reports/{dataset}/drift/episodes/{model}-t{tenure:08d}/"


def check_key(dataset: str, model: str, tenure: int, meta: BatchMeta, mark: str) -> str:
    """Named by ingest time first, so a listing is in ingest order whatever order the checks ran in; the verdict is
    the suffix, so the episode can be read from the listing alone."""
    return f"{checks_prefix(dataset, model, tenure)}{meta.ingested_at:%Y%m%dT%H%M%S%f}-{meta.batch_id}.{mark}"
