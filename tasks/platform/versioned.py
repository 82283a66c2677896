"""Small records changed in place by compare-and-set: read one with its ETag, write it back only if it still stands.

A head record that many writers update (the lake index) is read with its ETag, changed, and written with `If-Match`
(or `If-None-Match: *` when there was none yet). A 412, or a 409 for a write in flight, means another writer came
in between: the record is read again and the change made again on what that writer left. Nothing is ever lost to
a race, and no lock is held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.platform.codec import json_bytes
from tasks.platform.store import Store

MAX_ATTEMPTS = 100
LOST_RACE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def read(store: Store, key: str) -> tuple[Any | None, str | None]:
    """The JSON at `key` and its ETag; (None, None) when there is none."""
    try:
        answer = store.client.get_object(Bucket=store.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None, None
        raise
    return json.loads(answer["Body"].read()), answer["ETag"]


def update(store: Store, key: str, change: Callable[[Any | None], Any | None]) -> Any | None:
    """Apply `change` to the record at `key` until a write of its result stands; `change` returns None when the
    record needs no change. Returns the record as it stands after this call."""
    for _ in range(MAX_ATTEMPTS):
        current, etag = read(store, key)
        wanted = change(current)
        if wanted is None:
            return current
        if _write(store, key, wanted, etag):
            return wanted
    raise RuntimeError(f"{key}: {MAX_ATTEMPTS} writers came in between; giving up this time")


def _write(store: Store, key: str, record: Any, etag: str | None) -> bool:
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=json_bytes(record), **condition)  # type: ignore[arg-type]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in LOST_RACE:
            return False
        raise
    return True
