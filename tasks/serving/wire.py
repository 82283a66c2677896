"""The online log's hand-off from the model server to its lander process (pure): one answered request as bytes, and
many of them back as the two frames of a micro-batch.

The server only encodes: two orjson calls for the plain records of a typical request (a polars IPC stream for the
rows of a large one). The lander never turns the JSON into Python objects: a micro-batch's hand-offs are joined into
newline-delimited JSON and read by polars in one pass, which costs a tenth of building frames from Python values.

Values survive the trip exactly: requests are JSON, so their records hold text, 64-bit integers, finite floats (orjson
refuses NaN and infinities in a body, writes floats in their shortest exact form, and polars reads them back bit for
bit), flags, nulls and naive times (written and read in ISO form, to the microsecond).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

import numpy as np
import orjson
import polars as pl

from tasks.serving.checked import Checked

STOP = b""  # an empty hand-off: the server is stopping
COLUMNS, FRAME = b"c", b"f"  # the records after the head: a JSON object of columns, or a polars IPC stream
PREFIX = struct.Struct(">cIHHI")  # kind, rows, then the byte lengths of the dataset's name, the shadowed, the head
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"  # orjson's form of a naive time; the fraction is absent when zero
SERVED_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "record_id": pl.String(),
    "answered_by": pl.String(),  # the version whose score was returned
    "score": pl.Float64(),
    "request_ms": pl.Float64(),  # the whole request, validation to answer
    "served_at": pl.Datetime("us", "UTC"),
}
HEAD_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "record_id": pl.List(pl.String()),
    "answered_by": pl.List(pl.String()),
    "score": pl.List(pl.Float64()),
    "request_ms": pl.Float64(),
    "served_at": pl.Int64(),  # microseconds since the epoch, UTC
}


@dataclass(frozen=True)
class Scored:
    """One request's answer: its records (as the contract types them), who answered each and with what score."""

    request_id: str
    records: Checked
    record_ids: Sequence[str]
    answered_by: Sequence[str]
    scores: np.ndarray
    request_ms: float
    served_at: datetime
    shadowed: str = ""  # the challenger version the server saw scoring these records in shadow, if any


@dataclass(frozen=True)
class Handed:
    """A hand-off as the lander keeps it until its micro-batch is due: raw JSON, and the frame of a large request."""

    dataset: str
    rows: int
    head: bytes
    columns: bytes | None
    frame: pl.DataFrame | None
    shadowed: str = ""


def encode(dataset: str, scored: Scored) -> bytes:
    head = orjson.dumps(
        {
            "request_id": scored.request_id,
            "record_id": scored.record_ids,
            "answered_by": scored.answered_by,
            "score": scored.scores,
            "request_ms": scored.request_ms,
            "served_at": round(scored.served_at.timestamp() * 1_000_000),
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
    records = scored.records
    if records.columns is not None:
        rows = len(scored.record_ids)
        absent = {name: [None] * rows for name in records.dtypes if name not in records.columns}  # the target
        kind, body = COLUMNS, orjson.dumps({**records.columns, **absent} if absent else records.columns)
    else:
        kind, body = FRAME, records.as_frame().write_ipc_stream(None).getvalue()
    name, shadowed = dataset.encode(), scored.shadowed.encode()
    prefix = PREFIX.pack(kind, len(scored.record_ids), len(name), len(shadowed), len(head))
    return prefix + name + shadowed + head + body


def decode(blob: bytes) -> Handed:
    if len(blob) < PREFIX.size or blob[:1] not in (COLUMNS, FRAME):
        raise ValueError(f"not an online log hand-off (starts {blob[:8]!r})")
    kind, rows, name_size, shadowed_size, head_size = PREFIX.unpack_from(blob)
    dataset, shadowed, head, body = _cut(blob, PREFIX.size, name_size, shadowed_size, head_size)
    if kind == COLUMNS:
        return Handed(dataset.decode(), rows, head, body, None, shadowed.decode())
    return Handed(dataset.decode(), rows, head, None, pl.read_ipc_stream(BytesIO(body)), shadowed.decode())


def _cut(blob: bytes, start: int, *sizes: int) -> list[bytes]:
    """The parts of `blob` from `start` on: one of each size, then the rest."""
    parts = []
    for size in sizes:
        parts.append(blob[start : start + size])
        start += size
    return [*parts, blob[start:]]


def served_frame(entries: Sequence[Handed]) -> pl.DataFrame:
    """Who answered each record of the entries, with what score, when and how fast: one row per record."""
    heads = pl.read_ndjson(b"\n".join(entry.head for entry in entries), schema=HEAD_SCHEMA)
    served_at = pl.from_epoch("served_at", time_unit="us").dt.replace_time_zone("UTC")
    return heads.explode(["record_id", "answered_by", "score"]).with_columns(served_at).select(list(SERVED_SCHEMA))


def records_frame(entries: Sequence[Handed], dtypes: dict[str, pl.DataType]) -> pl.DataFrame:
    """The entries' records in order, typed by the contract (a column a request did not send is null)."""
    parts: list[pl.DataFrame] = []
    plain: list[bytes] = []
    for entry in entries:
        if entry.columns is not None:
            plain.append(entry.columns)
            continue
        if plain:
            parts.append(_plain_frame(plain, dtypes))
            plain = []
        assert entry.frame is not None
        parts.append(entry.frame)
    if plain:
        parts.append(_plain_frame(plain, dtypes))
    return pl.concat(parts, how="diagonal_relaxed")


def _plain_frame(columns: list[bytes], dtypes: dict[str, pl.DataType]) -> pl.DataFrame:
    times = {name for name, dtype in dtypes.items() if isinstance(dtype, pl.Datetime)}
    schema = {name: pl.List(pl.String() if name in times else dtype) for name, dtype in dtypes.items()}
    frame = pl.read_ndjson(b"\n".join(columns), schema=schema).explode(list(schema))
    return frame.with_columns(_time(name, dtypes[name]) for name in times)


def _time(name: str, dtype: Any) -> pl.Expr:
    return pl.col(name).str.to_datetime(TIME_FORMAT, time_unit=dtype.time_unit, time_zone=dtype.time_zone)
