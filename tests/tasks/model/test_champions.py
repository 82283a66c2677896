"""The history log's rules, pure: who is champion, which tenure, where a rollback goes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.model import champions
from tasks.model.champions import Action, HistoryRecord
from tasks.platform.errors import ConfigurationError

AT = datetime(2026, 5, 1, tzinfo=UTC)


def log_of(*steps: tuple[Action, str | None, str]) -> list[HistoryRecord]:
    return [
        HistoryRecord(
            sequence=n,
            dataset="credit",
            model="credit-risk",
            action=action,
            from_version=before,
            to_version=after,
            moved=action != "reject",
            why="",
            at=AT,
            flow_run_id="run",
            writer=f"w{n}",
        )
        for n, (action, before, after) in enumerate(steps, start=1)
    ]


def test_an_empty_log_has_no_champion_and_tenure_zero() -> None:
    assert (champions.champion([]), champions.tenure([]), champions.head([])) == (None, 0, 0)


def test_champion_and_tenure_follow_the_newest_move_not_the_newest_record() -> None:
    log = log_of(("promote", None, "1"), ("promote", "1", "2"), ("reject", "2", "3"))
    assert (champions.champion(log), champions.tenure(log), champions.head(log)) == ("2", 2, 3)


def test_rollbacks_walk_back_one_step_each_never_forward() -> None:
    log = log_of(("promote", None, "1"), ("promote", "1", "2"), ("promote", "2", "3"))
    assert champions.rollback_target(log, "", force=False) == "2"
    log = log_of(("promote", None, "1"), ("promote", "1", "2"), ("promote", "2", "3"), ("rollback", "3", "2"))
    assert champions.chain(log) == ["1", "2"]
    assert champions.rollback_target(log, "", force=False) == "1"
    log = [*log, *log_of(("rollback", "2", "1"))[-1:]]
    log[-1] = log[-1].model_copy(update={"sequence": 5})
    assert champions.chain(log) == ["1"] and champions.tenure(log) == 5
    with pytest.raises(ConfigurationError, match="no earlier champion"):
        champions.rollback_target(log, "", force=False)


def test_a_rejected_version_or_the_champion_itself_needs_force() -> None:
    log = log_of(("promote", None, "1"), ("reject", "1", "2"))
    with pytest.raises(ConfigurationError, match="v2 was rejected and never champion"):
        champions.rollback_target(log, "2", force=False)
    with pytest.raises(ConfigurationError, match="v1 is the champion already"):
        champions.rollback_target(log, "1", force=False)
    assert champions.rollback_target(log, "2", force=True) == "2"


def test_a_named_earlier_champion_is_pushed_when_no_longer_in_the_chain() -> None:
    log = log_of(("promote", None, "1"), ("promote", "1", "2"), ("rollback", "2", "1"), ("rollback", "1", "2"))
    assert champions.chain(log) == ["1", "2"]  # restored by name: it is on the chain again
    assert "(none) -> v1" in log[0].describe()
