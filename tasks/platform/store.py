"""The object store: one bucket behind boto3 (and polars' own reader), the same code for AWS and local endpoints."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import polars as pl
import polars.selectors as cs
from botocore.config import Config
from botocore.exceptions import ClientError

from blocks.models import StorageLocation
from tasks.platform.codec import parquet_bytes
from tasks.platform.errors import InsecureStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROBE_PREFIX = "driftloop/probes/"
# Pauses before resending a conditional write answered 409 (a concurrent write of the key was in flight): the other
# write settles within milliseconds, so a short, growing wait suffices and the caller's own retry stays the backstop.
CONFLICT_PAUSES_SECONDS = (0.05, 0.1, 0.2, 0.4)
_HONOURS_CONDITIONS: set[tuple[str, str]] = set()  # (endpoint, bucket) probed in this process


@dataclass(frozen=True)
class Store:
    """A bucket and a client for it; every key passed in is relative to the bucket."""

    client: S3Client
    bucket: str
    storage_options: dict[str, str]

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_if_absent(self, key: str, body: bytes) -> bool:
        """Write `body` only if `key` does not exist yet; True if this call wrote it, False if the key exists.

        The first conditional write to a bucket in a process probes that the store honours the condition at all.
        A concurrent conditional write of the same key can be answered 409 ConditionalRequestConflict (as S3 does);
        the write is then sent again a few times after a short pause, until the store settles the race (412: False,
        or written: True), and the 409 is raised if it does not.
        botocore resends a PUT whose answer was lost; the resent PUT can meet the object its first try wrote and get
        412, so False means "the key exists", not "someone else wrote it": callers that must know which writer won
        compare the writer's identity recorded in the body.
        """
        if (self.client.meta.endpoint_url, self.bucket) not in _HONOURS_CONDITIONS:
            self.check_conditional_writes()
        return self._put_if_absent(key, body)

    def check_conditional_writes(self) -> None:
        """Write a probe key twice with `If-None-Match: *`; raise InsecureStore if the second write succeeds.

        Every exactly-once guarantee (ledger, lake batches, claims, history) rests on that refusal.
        """
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            accepted_twice = self._put_if_absent(key, b"first") and self._put_if_absent(key, b"second")
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        if accepted_twice:
            raise InsecureStore(
                f"the object store at {self.client.meta.endpoint_url} (bucket {self.bucket!r}) accepted a second "
                "If-None-Match: * write of one key: it ignores conditional writes, so driftloop cannot guarantee "
                "exactly-once ingest, claims or history on it. Use AWS S3, SeaweedFS or a store that honours them."
            )
        _HONOURS_CONDITIONS.add((self.client.meta.endpoint_url, self.bucket))

    def _put_if_absent(self, key: str, body: bytes) -> bool:
        pauses = iter(CONFLICT_PAUSES_SECONDS)
        while True:
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in {"PreconditionFailed", "412"}:
                    return False
                pause = next(pauses, None) if code == "ConditionalRequestConflict" else None
                if pause is None:
                    raise
                time.sleep(pause)
            else:
                return True

    def put(self, key: str, body: bytes) -> None:
        """Write `body` at `key`, replacing what was there (only for mutable objects such as pointers)."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def get_json_if_exists(self, key: str) -> Any | None:
        """The JSON at `key`, or None if there is no such key (one round trip, not a head and a get)."""
        try:
            return self.get_json(key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        """Every key under `prefix` (after `start_after`, when given: the listing starts there), in lexical order."""
        return sorted(self.list_modified(prefix, start_after))

    def first_keys(self, prefix: str, count: int) -> list[str]:
        """The first `count` keys under `prefix` (at most 1,000), from one request however many there are."""
        if count <= 0:
            return []
        answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=count)
        return [obj["Key"] for obj in answer.get("Contents", [])]

    def list_modified(self, prefix: str, start_after: str = "") -> dict[str, datetime]:
        """Every key under `prefix` with when it was last written, from the listing alone (no read per key)."""
        modified: dict[str, datetime] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, StartAfter=start_after):
            modified.update((obj["Key"], obj["LastModified"]) for obj in page.get("Contents", []))
        return modified

    def read_parquet(self, key: str, columns: Collection[str] | None = None) -> pl.DataFrame:
        """The object's frame; with `columns`, only those of them it has (only their bytes are fetched)."""
        if columns is None:
            return pl.read_parquet(self.uri(key), storage_options=self.storage_options)
        scan = pl.scan_parquet(self.uri(key), storage_options=self.storage_options)
        return scan.select(cs.by_name(*columns, require_all=False)).collect()

    def write_parquet_if_absent(self, key: str, frame: pl.DataFrame) -> bool:
        return self.put_if_absent(key, parquet_bytes(frame))


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def open_store(location: StorageLocation) -> Store:
    """Build a store from a storage block: explicit endpoint and credentials, nothing ambient but the AWS chain."""
    session = location.credentials.get_boto3_session() if location.credentials else boto3.Session()
    options = _polars_options(session, location)
    return Store(client=_client(session, location, options), bucket=location.bucket, storage_options=options)


_CLIENTS: dict[str, S3Client] = {}
MAX_CLIENTS = 16


def forget_clients() -> None:
    """Drop this process's S3 clients: the next store builds its own, as the first one in a new process does."""
    _CLIENTS.clear()


def _client(session: boto3.Session, location: StorageLocation, options: dict[str, str]) -> S3Client:
    """One boto3 client per endpoint, addressing style and credentials in this process: building one parses
    botocore's endpoint and service models (0.1-0.3 s); clients are thread-safe. New credentials or a changed
    storage block make a new key, so a new client."""
    identity = json.dumps([location.addressing_style, sorted(options.items())])
    key = hashlib.sha256(identity.encode()).hexdigest()
    if (client := _CLIENTS.get(key)) is not None:
        return client
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=2,
        read_timeout=30,
        s3={"addressing_style": location.addressing_style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client = session.client("s3", endpoint_url=location.endpoint_url, region_name=location.region, config=config)
    if len(_CLIENTS) >= MAX_CLIENTS:
        _CLIENTS.clear()
    _CLIENTS[key] = client
    return client


def _polars_options(session: boto3.Session, location: StorageLocation) -> dict[str, str]:
    options = {"aws_region": location.region}  # polars 2.1 rejects a string max_retries; its default applies
    if location.endpoint_url:
        options |= {"aws_endpoint_url": location.endpoint_url, "aws_allow_http": "true"}
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options |= {
            "aws_access_key_id": frozen.access_key or "",
            "aws_secret_access_key": frozen.secret_key or "",
        }
        if frozen.token:
            options["aws_session_token"] = frozen.token
    return options
