"""Rollback tasks: move the champion back along the recorded history, by compare-and-set, and say so."""

from __future__ import annotations

from prefect.client.schemas.objects import State
from prefect.states import Completed

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
def rollback_target(cfg: DatasetConfig, to_version: str, force: bool = False, from_version: str = "") -> str:
    """`to_version`, or the champion before the current one in the history's chain (a second rollback goes one
    step further back); a rejected version or the current champion only with `force`. Empty when `from_version` is
    given and no longer the champion: there is nothing left to roll back."""
    log = history.read_log(cfg)
    history.project_alias(cfg, log)
    if from_version and champions.champion(log) != from_version:
        return ""
    return champions.rollback_target(log, require_version(cfg, to_version) if to_version else "", force)


def moved_on(cfg: DatasetConfig, from_version: str) -> State[None]:
    """A rollback of a champion that no longer serves is done already: a completed run that says so."""
    return Completed(
        name="Skipped", message=f"v{from_version} of {cfg.model_name} is no longer the champion: nothing to roll back"
    )


@io_task
def roll_back(cfg: DatasetConfig, to_version: str, reason: str = "") -> HistoryRecord:
    """Record the rollback right after the newest record (compare-and-set), then move the alias."""
    log = history.read_log(cfg)
    current = champions.champion(log)
    why = f"rollback from v{current} to v{to_version}" + (f": {reason}" if reason else "")
    entry = history.record(cfg, "rollback", current, to_version, why)
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
