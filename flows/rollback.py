"""The rollback flow: move the champion back along the recorded history."""

from __future__ import annotations

from prefect import flow

from tasks.model.steps.rollback import HistoryRecord, announce_rollback, load_dataset, roll_back, rollback_target


@flow(name="rollback", log_prints=True)
def rollback(dataset: str = "", to_version: int | str = "", force: bool = False) -> HistoryRecord:
    """Point the champion at an earlier version, record the move and emit `driftloop.model.rolled-back`.

    Rollbacks walk the history back: a second rollback goes one step further back, never forward again. The move is
    recorded right after the newest history record (compare-and-set), then the alias follows.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        to_version: Version to restore; empty takes the champion before the current one in the history.
        force: Also restore a version the gates rejected, or record a move to the current champion.
    """
    cfg = load_dataset(dataset)
    # target
    target: str = rollback_target(cfg, str(to_version), force)
    # move
    move: HistoryRecord = roll_back(cfg, target)
    # announce
    announce_rollback(cfg, move)
    return move
