"""The online log (pure): every scored record, kept in memory until a micro-batch is due (enough rows or long enough
since the last), then handed over whole. Appending is the only work on the request path."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from tasks.serving.checked import Checked, frame_of

CHUNK_ROWS = 4000  # rows per frame built: a few milliseconds of GIL at a time
SERVED_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "record_id": pl.String(),
    "answered_by": pl.String(),  # the version whose score was returned
    "score": pl.Float64(),
    "request_ms": pl.Float64(),  # the whole request, validation to answer
    "served_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Scored:
    """One request's answer: its records (as the contract types them), who answered each and with what score."""

    request_id: str
    records: Checked
    record_ids: tuple[str, ...]
    answered_by: tuple[str, ...]
    scores: np.ndarray
    request_ms: float


@dataclass(frozen=True)
class MicroBatch:
    """What one flush writes: the records for landing/, and the serving log of their answers. The name is fixed when
    the batch is drained, so landing it again after a failure writes the same keys (each written once)."""

    name: str
    records: pl.DataFrame
    served: pl.DataFrame


@dataclass
class OnlineLog:
    flush_rows: int
    flush_seconds: float
    clock: Callable[[], float] = time.monotonic
    _entries: list[tuple[Scored, datetime]] = field(default_factory=list)
    _rows: int = 0
    _since: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _held: list[MicroBatch] = field(default_factory=list)  # drained, then not landed: they go out with the next

    def __post_init__(self) -> None:
        self._since = self.clock()

    def append(self, scored: Scored) -> None:
        with self._lock:
            if not self._entries:
                self._since = self.clock()  # the oldest waiting entry's time: what `flush_seconds` is counted from
            self._entries.append((scored, datetime.now(UTC)))
            self._rows += len(scored.record_ids)

    def due(self) -> bool:
        """Enough rows for a micro-batch, or rows waiting longer than `flush_seconds`."""
        with self._lock:
            waited = self.clock() - self._since
            waiting = self._rows + sum(batch.records.height for batch in self._held)
            return waiting >= self.flush_rows or (waiting > 0 and waited >= self.flush_seconds)

    def drain(self) -> MicroBatch | None:
        """The oldest held micro-batch, else everything appended so far as a new one (None when empty)."""
        with self._lock:
            if self._held:
                return self._held.pop(0)
            entries, self._entries, self._rows, self._since = self._entries, [], 0, self.clock()
        return _batch(entries) if entries else None

    def hold(self, batch: MicroBatch) -> None:
        """Keep a drained micro-batch that could not be landed: the next drain hands it over again, first."""
        with self._lock:
            self._held.append(batch)

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._rows + sum(batch.records.height for batch in self._held)


def _batch(entries: list[tuple[Scored, datetime]]) -> MicroBatch:
    """One frame of records and one of answers for all the entries, built a few thousand rows at a time: polars
    holds the GIL while it turns Python values into columns, and a whole micro-batch at once would stall the requests
    in flight for a tenth of a second."""
    chunks = [_chunk(part) for part in _parts(entries)]
    records = pl.concat([records for records, _ in chunks], how="diagonal_relaxed")
    log = pl.concat([log for _, log in chunks])
    return MicroBatch(flush_name(datetime.now(UTC), uuid.uuid4().hex[:8]), records, log)


def _parts(entries: list[tuple[Scored, datetime]]) -> list[list[tuple[Scored, datetime]]]:
    parts: list[list[tuple[Scored, datetime]]] = [[]]
    rows = 0
    for entry in entries:
        if rows >= CHUNK_ROWS:
            parts.append([])
            rows = 0
        parts[-1].append(entry)
        rows += len(entry[0].record_ids)
    return parts


def _chunk(entries: list[tuple[Scored, datetime]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The records and answers of some entries, each frame built once (not one per request)."""
    records = frame_of([scored.records for scored, _ in entries])
    served: dict[str, list[Any]] = {name: [] for name in SERVED_SCHEMA}
    for scored, at in entries:
        rows = len(scored.record_ids)
        served["request_id"] += [scored.request_id] * rows
        served["record_id"] += scored.record_ids
        served["answered_by"] += scored.answered_by
        served["score"] += scored.scores.tolist()
        served["request_ms"] += [scored.request_ms] * rows
        served["served_at"] += [at] * rows
    return records, pl.DataFrame(served, schema=SERVED_SCHEMA)


def flush_name(at: datetime, token: str) -> str:
    """A micro-batch's name: its UTC time first, so names sort in landing order, and a token against collisions."""
    return f"{at.strftime('%Y%m%dT%H%M%S%fZ')}-{token}"


def online_landing_key(dataset: str, name: str) -> str:
    return f"landing/{dataset}/online/{name}.parquet"


def serving_log_key(dataset: str, name: str) -> str:
    return f"serving/{dataset}/log/{name}.parquet"


def shadow_prefix(dataset: str, challenger_version: str) -> str:
    """The shadow summaries of one challenger version: what promote's shadow gate counts."""
    return f"reports/{dataset}/shadow/v{challenger_version}/"
