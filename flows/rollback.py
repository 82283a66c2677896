"""The rollback flow: move the champion back to a previous version from the recorded alias history."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.model.steps.promote import announce_rollback, load_dataset, roll_back, rollback_target


@flow(name="rollback", log_prints=True)
def rollback(dataset: str = "credit", to_version: str = "") -> dict[str, Any]:
    """Point the champion at an earlier version, record the move and emit `driftloop.model.rolled-back`.

    Args:
        dataset: Name of the dataset block.
        to_version: Version to restore; empty takes the champion the current one replaced, from the history.
    """
    cfg = load_dataset(dataset)
    # target
    target: str = rollback_target(cfg, to_version)
    # move
    move: dict[str, Any] = roll_back(cfg, target)
    # announce
    announce_rollback(cfg, move)
    return move
