"""Durable alias history and the guarded champion move.

Every promotion decision and every alias move is a JSON record under `registry/<model>/history/<seq>.json`,
written with `IfNoneMatch` so two writers can never take the same sequence number. History and rollback read these
records, never process memory. The champion moves only under the model's lock and only if it is still the version
the decision was evaluated against (compare-and-set); otherwise StaleChampion.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from prefect.runtime import flow_run

from tasks.model.locks import held
from tasks.model.registry import CHAMPION, champion_history, champion_version, history_prefix, set_alias
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import StaleChampion

MAX_APPEND_ATTEMPTS = 50


def lock_key(model: str) -> str:
    return f"registry/{model}/champion.lock"


def previous_champion(cfg: DatasetConfig) -> str | None:
    """The version the current champion replaced, by the newest move that made it champion."""
    current = champion_version(cfg)
    moves = [m for m in champion_history(cfg) if m["to_version"] == current and m["from_version"]]
    return str(moves[-1]["from_version"]) if moves else None


def append_record(cfg: DatasetConfig, record: dict[str, Any]) -> dict[str, Any]:
    """Append one record at the next free sequence number and return it with its sequence and time."""
    prefix = history_prefix(cfg.model_name)
    for _ in range(MAX_APPEND_ATTEMPTS):
        sequence = len(cfg.store.list_keys(prefix)) + 1
        stamped = {**record, "sequence": sequence, "at": datetime.now(UTC).isoformat(), "flow_run_id": _run_id()}
        if cfg.store.put_if_absent(f"{prefix}{sequence:08d}.json", json_bytes(stamped)):
            return stamped
    raise RuntimeError(f"could not append to {prefix} after {MAX_APPEND_ATTEMPTS} attempts")


def move_champion(cfg: DatasetConfig, to_version: str, expected: str | None, action: str, why: str) -> dict[str, Any]:
    """Point `champion` at `to_version` under the lock, if it still points at `expected`; record the move."""
    with held(cfg.store, lock_key(cfg.model_name), owner=f"{_run_id()}-{uuid.uuid4().hex[:8]}"):
        current = champion_version(cfg)
        if current != expected:
            raise StaleChampion(f"champion is v{current}, not v{expected} as evaluated: the decision is stale")
        set_alias(cfg, CHAMPION, to_version)
        return append_record(cfg, _record(cfg, action, current, to_version, why, moved=True))


def record_without_move(
    cfg: DatasetConfig, action: str, current: str | None, candidate: str, why: str
) -> dict[str, Any]:
    """Record a decision that left the champion where it was (a rejection)."""
    return append_record(cfg, _record(cfg, action, current, candidate, why, moved=False))


def _record(
    cfg: DatasetConfig, action: str, from_version: str | None, to_version: str, why: str, moved: bool
) -> dict[str, Any]:
    return {
        "dataset": cfg.name,
        "model": cfg.model_name,
        "alias": CHAMPION,
        "action": action,
        "from_version": from_version,
        "to_version": to_version,
        "moved": moved,
        "why": why,
    }


def _run_id() -> str:
    return str(flow_run.id or "no-flow-run")
