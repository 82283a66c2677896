"""The online log's hand-off from the server to its lander: every value a request can carry comes back exactly, in
request order, whether its records went as plain columns or as a frame."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest

from tasks.serving import wire
from tasks.serving.checked import Checked
from tasks.serving.frames import framed, next_frame
from tasks.serving.wire import Scored

DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "count": pl.Int64(),
    "amount": pl.Float64(),
    "flag": pl.Boolean(),
    "at": pl.Datetime("us"),
    "target": pl.Int64(),
}
COLUMNS: dict[str, list[Any]] = {
    "id": ["a", "é ü \u2603", '"quoted"\n', "d"],
    "count": [2**63 - 1, -(2**63), 0, None],
    "amount": [0.1, -0.0, 5e-324, 1.7976931348623157e308],
    "flag": [True, False, None, True],
    "at": [datetime(2024, 3, 1), datetime(2024, 3, 1, 7, 8, 9, 123_456), None, datetime(1999, 12, 31, 23, 59, 59, 1)],
}  # no target: a request does not know it
SERVED_AT = datetime(2024, 3, 1, 12, 30, 0, 5, tzinfo=UTC)


def request(rows: slice, as_frame: bool = False, request_id: str = "req-1") -> Scored:
    plain = Checked(columns={name: values[rows] for name, values in COLUMNS.items()}, dtypes=DTYPES)
    records = Checked(frame=plain.as_frame(), dtypes=DTYPES) if as_frame else plain
    ids = COLUMNS["id"][rows]
    scores = np.array([0.1, 1 / 3, 0.0, 0.999999999999])[rows]
    return Scored(request_id, records, ids, ["3", "4", "3", "3"][rows], scores, 2.5, SERVED_AT)


def expected_records(rows: slice) -> pl.DataFrame:
    return pl.DataFrame({name: values[rows] for name, values in COLUMNS.items()}, schema_overrides=DTYPES)


@pytest.mark.parametrize("as_frame", [False, True], ids=["plain columns", "polars frame"])
def test_a_request_comes_back_from_the_wire_value_for_value(as_frame: bool) -> None:
    handed = wire.decode(wire.encode("credit", replace(request(slice(0, 4), as_frame), shadowed="17")))
    assert (handed.dataset, handed.rows, handed.shadowed) == ("credit", 4, "17")  # the lander shadows as told
    assert wire.decode(wire.encode("credit", request(slice(0, 1), as_frame))).shadowed == ""
    records = wire.records_frame([handed], DTYPES)
    assert records.select(list(COLUMNS)).equals(expected_records(slice(0, 4)))
    assert records.get_column("target", default=pl.Series([None] * 4)).is_null().all()
    amounts = records["amount"].to_numpy()
    assert amounts.view(np.int64).tolist() == np.array(COLUMNS["amount"]).view(np.int64).tolist()  # -0.0 too
    served = wire.served_frame([handed])
    assert served.schema == pl.Schema(wire.SERVED_SCHEMA)
    assert served["record_id"].to_list() == COLUMNS["id"] and served["answered_by"].to_list() == ["3", "4", "3", "3"]
    assert served["score"].to_list() == [0.1, 1 / 3, 0.0, 0.999999999999]
    assert set(served["served_at"]) == {SERVED_AT} and set(served["request_id"]) == {"req-1"}


def test_plain_and_framed_requests_come_back_in_the_order_they_were_answered() -> None:
    sent = [
        request(slice(0, 1), request_id="r1"),
        request(slice(1, 3), as_frame=True, request_id="r2"),
        request(slice(3, 4), request_id="r3"),
    ]
    handed = [wire.decode(wire.encode("credit", scored)) for scored in sent]
    records, served = wire.records_frame(handed, DTYPES), wire.served_frame(handed)
    assert records["id"].to_list() == served["record_id"].to_list() == COLUMNS["id"]
    assert served["request_id"].to_list() == ["r1", "r2", "r2", "r3"]
    assert records.select(list(COLUMNS)).equals(expected_records(slice(0, 4)))
    assert records["target"].is_null().all() and records["target"].dtype == pl.Int64


def test_anything_else_on_the_pipe_is_refused() -> None:
    with pytest.raises(ValueError, match="not an online log hand-off"):
        wire.decode(b"x{}")


def test_hand_offs_come_off_the_pipe_whole_and_in_order_however_its_reads_split_them() -> None:
    blobs = [wire.encode("credit", request(slice(0, n + 1), request_id=f"req-{n}")) for n in range(3)] + [wire.STOP]
    stream = b"".join(framed(blob) for blob in blobs)
    for read in (1, 3, 7, 64, len(stream)):  # a read may end inside a length or inside a hand-off
        pipe = open_pipe(stream, read)
        received = []
        while (blob := next_frame(pipe)) is not None:
            received.append(blob)
        assert received == blobs, read
    assert [wire.decode(blob).rows for blob in received[:-1]] == [1, 2, 3]


@pytest.mark.parametrize("cut", [2, 9], ids=["inside a length", "inside a hand-off"])
def test_a_hand_off_cut_short_by_a_dying_server_ends_the_pipe(cut: int) -> None:
    whole = framed(b"first")
    pipe = open_pipe(whole + framed(b"second")[:cut], 4)
    assert next_frame(pipe) == b"first"
    assert next_frame(pipe) is None


class Trickle(io.RawIOBase):
    """A pipe's read end holding `stream`, of which each read gets at most `read` bytes (what had arrived)."""

    def __init__(self, stream: bytes, read: int) -> None:
        self.stream, self.read_at_most = stream, read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.read_at_most, len(self.stream))
        buffer[:size], self.stream = self.stream[:size], self.stream[size:]
        return size


def open_pipe(stream: bytes, read: int) -> io.BufferedReader:
    """As the lander opens its end of the pipe: buffered, the buffer larger than what arrives at once."""
    return io.BufferedReader(Trickle(stream, read), buffer_size=1 << 20)
