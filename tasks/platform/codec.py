"""Bytes for the object store: stable JSON, zstd parquet, and the content hash that names batches. Pure."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import polars as pl


def json_bytes(value: Any) -> bytes:
    """Stable, readable JSON for objects in the store."""
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
