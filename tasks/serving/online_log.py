"""The online log (pure): every scored record, kept by the model server's lander process until a micro-batch is due
(enough rows or long enough since the last), then handed over whole."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from tasks.serving.wire import Handed, records_frame, served_frame


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
    _entries: list[Handed] = field(default_factory=list)
    _rows: int = 0
    _since: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _held: list[MicroBatch] = field(default_factory=list)  # drained, then not landed: they go out with the next

    def __post_init__(self) -> None:
        self._since = self.clock()

    def append(self, handed: Handed) -> None:
        if not handed.rows:
            return  # a request of no records: nothing to land
        with self._lock:
            if not self._entries:
                self._since = self.clock()  # the oldest waiting entry's time: what `flush_seconds` is counted from
            self._entries.append(handed)
            self._rows += handed.rows

    def due(self) -> bool:
        """Enough rows for a micro-batch, or rows waiting longer than `flush_seconds`."""
        with self._lock:
            waited = self.clock() - self._since
            waiting = self._rows + sum(batch.records.height for batch in self._held)
            return waiting >= self.flush_rows or (waiting > 0 and waited >= self.flush_seconds)

    def drain(self, dtypes: dict[str, pl.DataType]) -> MicroBatch | None:
        """The oldest held micro-batch, else everything appended so far as a new one, its records typed by `dtypes`
        (None when empty)."""
        with self._lock:
            if self._held:
                return self._held.pop(0)
            entries, self._entries, self._rows, self._since = self._entries, [], 0, self.clock()
        if not entries:
            return None
        name = flush_name(datetime.now(UTC), uuid.uuid4().hex[:8])
        return MicroBatch(name, records_frame(entries, dtypes), served_frame(entries))

    def hold(self, batch: MicroBatch) -> None:
        """Keep a drained micro-batch that could not be landed: the next drain hands it over again, first."""
        with self._lock:
            self._held.append(batch)

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._rows + sum(batch.records.height for batch in self._held)


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
