"""The champion's history as a log, pure: typed records, and what follows from them.

The log is the truth; the MLflow `champion` alias is its projection. The champion is the target of the newest record
that moved it; its *tenure* is that record's sequence number (0 before any champion), so a promotion or a rollback
starts a new tenure. Rollbacks walk the log back: the chain of champions is a stack that a promotion pushes and a
rollback pops, so a second rollback goes one step further back, never forward again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from tasks.platform.errors import ConfigurationError

Action = Literal["promote", "reject", "rollback"]


class HistoryRecord(BaseModel):
    """One decision on the champion alias, written once at its sequence number."""

    sequence: int
    dataset: str
    model: str
    action: Action
    from_version: str | None  # the champion the decision was judged against
    to_version: str  # the candidate, or the rollback target
    moved: bool
    why: str
    at: datetime
    flow_run_id: str
    writer: str  # who wrote it: a retry that finds its own record knows its write went through

    def describe(self) -> str:
        """One line for people: when, what, from which version to which, why, and by which flow run."""
        before = f"v{self.from_version}" if self.from_version else "(none)"
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S}  #{self.sequence:<3} {self.action:<8} {before} -> v{self.to_version}  "
            f"{self.why}  (flow run {self.flow_run_id})"
        )


def head(log: list[HistoryRecord]) -> int:
    """The newest sequence number, 0 for an empty log."""
    return log[-1].sequence if log else 0


def moves(log: list[HistoryRecord]) -> list[HistoryRecord]:
    return [record for record in log if record.moved]


def champion(log: list[HistoryRecord]) -> str | None:
    moved = moves(log)
    return moved[-1].to_version if moved else None


def tenure(log: list[HistoryRecord]) -> int:
    """The sequence of the record that made the current champion: drift episodes belong to it."""
    moved = moves(log)
    return moved[-1].sequence if moved else 0


def chain(log: list[HistoryRecord]) -> list[str]:
    """The champions still to roll back to, oldest first, the current one last."""
    stack: list[str] = []
    for record in moves(log):
        if record.action == "rollback" and record.to_version in stack:
            del stack[stack.index(record.to_version) + 1 :]
        else:
            stack.append(record.to_version)
    return stack


def rollback_target(log: list[HistoryRecord], to_version: str, force: bool) -> str:
    """The version a rollback moves to: the one before the current champion in the chain, or `to_version` if it
    may be restored. A version that was rejected and never champion, or the current champion itself, needs `force`."""
    stack = chain(log)
    current = stack[-1] if stack else None
    target = to_version or (stack[-2] if len(stack) > 1 else "")
    if not target:
        raise ConfigurationError("no earlier champion to roll back to; pass to_version")
    if target == current and not force:
        raise ConfigurationError(f"v{target} is the champion already; pass force=true to record a self-move")
    if _rejected(log, target) and not force:
        raise ConfigurationError(f"v{target} was rejected and never champion; pass force=true to restore it anyway")
    return target


def _rejected(log: list[HistoryRecord], version: str) -> bool:
    was_champion = any(record.to_version == version for record in moves(log))
    return not was_champion and any(r.action == "reject" and r.to_version == version for r in log)
