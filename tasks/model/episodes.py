"""Drift episodes, pure: whether a retrain may start in a champion's tenure now, and if not, why and until when.

An episode belongs to one tenure (see `champions.tenure`). Each attempt to retrain holds a lease and ends with an
outcome; an attempt whose process died has no outcome and a lease that runs out, so a crash never locks the episode.
A promotion or a rollback starts a new tenure, so drift after it is a new episode. A rejection or a failure reopens
the episode after a backoff, or sooner once enough new labelled rows arrived. Every attempt counts against the
budget, failed ones included, so a retrain that keeps failing stops instead of running after every cooldown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from tasks.platform.specs import DriftPolicyFields

Ending = Literal["promoted", "rejected", "stale-champion", "unchanged", "failed"]


class Attempt(BaseModel):
    """One attempt to retrain in a tenure, written once when it starts."""

    dataset: str
    model: str
    tenure: int
    number: int
    champion_version: str | None
    flow_run_id: str
    trigger_event_id: str
    started_at: datetime
    lease_until: datetime


class Outcome(BaseModel):
    """How an attempt ended, written once when it ends."""

    ending: Ending
    reason: str
    at: datetime


def not_now(
    attempts: list[tuple[Attempt, Outcome | None]],
    now: datetime,
    policy: DriftPolicyFields,
    labelled_rows_since: Callable[[datetime], int],
) -> str | None:
    """None when a new attempt may start; else why not, with when the episode reopens."""
    if not attempts:
        return None
    attempt, outcome = attempts[-1]
    if outcome is None:
        if now < attempt.lease_until:
            return (
                f"attempt {attempt.number} (flow run {attempt.flow_run_id}) holds the episode until "
                f"{attempt.lease_until:%H:%M:%S} UTC"
            )
        return None  # its process died: the lease ran out, and the race for the next attempt number has one winner
    reopens = outcome.at + timedelta(minutes=policy.retry_backoff_minutes)
    if now >= reopens:
        return None
    rows = labelled_rows_since(outcome.at)
    if rows >= policy.retry_after_rows:
        return None
    return (
        f"attempt {attempt.number} ended {outcome.ending} ({outcome.reason}); the episode reopens at "
        f"{reopens:%Y-%m-%d %H:%M} UTC or after {policy.retry_after_rows - rows} more labelled rows"
    )


def budget_spent(started: list[datetime], now: datetime, budget: int, period_hours: float) -> bool:
    """True when `budget` attempts already started within the last `period_hours`."""
    since = now - timedelta(hours=period_hours)
    return sum(1 for at in started if at >= since) >= budget
