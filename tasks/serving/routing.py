"""Canary routing (pure): which records the challenger answers, decided by a hash of the record id, so the same
entity always meets the same model whichever request, process or replica it arrives in."""

from __future__ import annotations

import hashlib

import numpy as np

BUCKETS = 10_000  # a share is routed to 0.01 % precision


def bucket(record_id: str) -> int:
    """A stable bucket in [0, BUCKETS): BLAKE2b of the id (Python's own hash is salted per process)."""
    digest = hashlib.blake2b(record_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def to_challenger(record_ids: list[str], percent: float) -> np.ndarray:
    """True for the records the challenger answers: those whose bucket falls below `percent` of the buckets."""
    cut = round(percent * BUCKETS / 100)
    return np.fromiter((bucket(i) < cut for i in record_ids), dtype=bool, count=len(record_ids))
