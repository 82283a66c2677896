"""Keys of the Prefect artifacts driftloop keeps: one per kind and dataset, so versions accumulate under one key.

A key per batch or per run would add thousands of keys a day at a production cadence; the artifact's description and
rows name the batch or version each version is about.
"""

from __future__ import annotations

KINDS = ("ingest", "score", "drift", "train", "promotion", "rollback", "retrain", "reconcile")


def artifact_key(kind: str, dataset: str) -> str:
    """`<kind>-<dataset>`, lowercase with anything outside [a-z0-9-] replaced (Prefect accepts nothing else)."""
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}; one of {', '.join(KINDS)}")
    raw = f"{kind}-{dataset}".lower()
    return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in raw)
