"""The rollback flow: move the champion back along the recorded history."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.model.steps.rollback import (
    HistoryRecord,
    announce_rollback,
    load_dataset,
    moved_on,
    roll_back,
    rollback_target,
)


@flow(name="rollback", log_prints=True)
def rollback(
    dataset: str = "", to_version: int | str = "", force: bool = False, from_version: str = "", reason: str = ""
) -> HistoryRecord | State[None]:
    """Point the champion at an earlier version, record the move and emit `driftloop.model.rolled-back`.

    Rollbacks walk the history back: a second rollback goes one step further back, never forward again. The move is
    recorded right after the newest history record (compare-and-set), then the alias follows. The degradation
    automation passes the champion it judged as `from_version`: once that version no longer serves (rolled back
    already, or replaced), the run completes and moves nothing, so one degradation never rolls back twice.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        to_version: Version to restore; empty takes the champion before the current one in the history.
        force: Also restore a version the gates rejected, or record a move to the current champion.
        from_version: Roll back only while this version is the champion; empty: whichever serves.
        reason: Why, for the history record and the notification (the degradation automation says what it saw).
    """
    cfg = load_dataset(dataset)
    # target
    target: str = rollback_target(cfg, str(to_version), force, from_version)
    if not target:
        return moved_on(cfg, from_version)
    # move
    move: HistoryRecord = roll_back(cfg, target, reason)
    # announce
    announce_rollback(cfg, move)
    return move
