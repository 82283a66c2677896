"""Rollback tasks: move the champion back along the recorded history, by compare-and-set, and say so."""

from __future__ import annotations

from tasks.model import champions, history
from tasks.model.champions import HistoryRecord
from tasks.model.registry import require_version
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.errors import StaleChampion
from tasks.platform.retry import io_task

__all__ = ["HistoryRecord", "load_dataset"]  # re-exported: flows import steps only


@io_task
def rollback_target(cfg: DatasetConfig, to_version: str, force: bool = False) -> str:
    """`to_version`, or the champion before the current one in the history's chain (a second rollback goes one
    step further back); a rejected version or the current champion only with `force`."""
    log = history.read_log(cfg)
    history.project_alias(cfg, log)
    return champions.rollback_target(log, require_version(cfg, to_version) if to_version else "", force)


@io_task
def roll_back(cfg: DatasetConfig, to_version: str) -> HistoryRecord:
    """Record the rollback right after the newest record (compare-and-set), then move the alias."""
    log = history.read_log(cfg)
    current = champions.champion(log)
    entry = history.record(cfg, "rollback", current, to_version, f"rollback from v{current} to v{to_version}")
    written = history.write_at(cfg, entry, champions.head(log) + 1)
    if written is None:
        raise StaleChampion(f"{cfg.model_name}: another decision was recorded after #{champions.head(log)}; run again")
    history.move_alias(cfg, written)
    return written


@io_task
def announce_rollback(cfg: DatasetConfig, move: HistoryRecord) -> None:
    events.announce(history.announcement(cfg, move))
    record = move.model_dump(mode="json")
    publish_table("rollback", cfg.name, [record], move.why)
