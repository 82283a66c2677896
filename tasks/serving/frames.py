"""Hand-offs on the pipe from the model server to its lander (pure): each is its length, then its bytes.

The lander reads the pipe through a buffer as large as the pipe: one read, so one wait for the GIL, takes every
hand-off waiting. Read one by one (a read for the length, another for the bytes, as multiprocessing's connections
do), each hand-off waits for the GIL again behind the landing's Python; the lander then takes one every few
milliseconds, and the server's writes block on a full pipe."""

from __future__ import annotations

import struct
from typing import BinaryIO

LENGTH = struct.Struct(">I")


def framed(blob: bytes) -> bytes:
    """One hand-off as it goes down the pipe."""
    return LENGTH.pack(len(blob)) + blob


def next_frame(stream: BinaryIO) -> bytes | None:
    """The next hand-off on `stream`; None once it has ended (a hand-off cut short by a dying writer ends it too)."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    blob = stream.read(size)
    return blob if len(blob) == size else None
