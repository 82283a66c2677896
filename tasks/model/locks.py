"""A lock object in the store: one holder at a time across threads, processes and machines, with an expiry.

Acquire is a conditional write (`IfNoneMatch="*"`) of the lock key, so exactly one writer wins. A holder that died
leaves a lock that expires after `ttl_seconds`; the next contender deletes it and tries again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from tasks.platform.codec import json_bytes
from tasks.platform.errors import DriftloopError
from tasks.platform.store import Store


class LockBusy(DriftloopError):
    """The lock stayed held by someone else for longer than we were willing to wait."""


@contextmanager
def held(store: Store, key: str, owner: str, ttl_seconds: float = 120.0, wait_seconds: float = 60.0) -> Iterator[None]:
    """Hold the lock at `key` for the duration of the block; LockBusy after `wait_seconds` of contention."""
    deadline = time.monotonic() + wait_seconds
    while not _acquire(store, key, owner, ttl_seconds):
        if time.monotonic() > deadline:
            raise LockBusy(f"lock {key} still held after {wait_seconds:.0f} s")
        time.sleep(0.1)
    try:
        yield
    finally:
        _release(store, key, owner)


def _acquire(store: Store, key: str, owner: str, ttl_seconds: float) -> bool:
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    if store.put_if_absent(key, json_bytes({"owner": owner, "expires_at": expires_at.isoformat()})):
        return True
    holder = _holder(store, key)
    if holder is not None and datetime.fromisoformat(holder["expires_at"]) < datetime.now(UTC):
        store.client.delete_object(Bucket=store.bucket, Key=key)  # an expired lock: its holder is gone
    return False


def _release(store: Store, key: str, owner: str) -> None:
    holder = _holder(store, key)
    if holder is not None and holder["owner"] == owner:
        store.client.delete_object(Bucket=store.bucket, Key=key)


def _holder(store: Store, key: str) -> dict[str, str] | None:
    try:
        holder: dict[str, str] = store.get_json(key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    return holder
