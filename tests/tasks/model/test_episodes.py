"""When a retrain may start in a drift episode, pure: leases, outcomes, backoff, new rows and the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.model.episodes import Attempt, Ending, Outcome, budget_spent, not_now
from tasks.platform.specs import DriftPolicyFields

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
POLICY = DriftPolicyFields(retry_backoff_minutes=60, retry_after_rows=5000, attempt_lease_minutes=30)


def attempt(started: datetime, number: int = 1) -> Attempt:
    return Attempt(
        dataset="credit",
        model="credit-risk",
        tenure=3,
        number=number,
        champion_version="2",
        flow_run_id="run-1",
        trigger_event_id="",
        started_at=started,
        lease_until=started + timedelta(minutes=30),
    )


def ended(ending: Ending, at: datetime) -> Outcome:
    return Outcome(ending=ending, reason="gates", at=at)


def no_rows(_since: datetime) -> int:
    return 0


def test_a_new_episode_may_start() -> None:
    assert not_now([], NOW, POLICY, no_rows) is None


def test_a_running_attempt_holds_the_episode_until_its_lease_ends() -> None:
    running = [(attempt(NOW - timedelta(minutes=10)), None)]
    assert "holds the episode until 12:20:00" in (not_now(running, NOW, POLICY, no_rows) or "")
    assert not_now(running, NOW + timedelta(minutes=21), POLICY, no_rows) is None  # died: its lease ran out


def test_a_rejection_reopens_after_the_backoff_or_enough_new_rows() -> None:
    rejected = [(attempt(NOW - timedelta(minutes=20)), ended("rejected", NOW - timedelta(minutes=10)))]
    why = not_now(rejected, NOW, POLICY, lambda _since: 1200)
    assert why is not None and "ended rejected" in why and "3800 more labelled rows" in why
    assert not_now(rejected, NOW + timedelta(minutes=50), POLICY, no_rows) is None
    assert not_now(rejected, NOW, POLICY, lambda _since: 5000) is None


def test_a_failure_reopens_like_a_rejection() -> None:
    failed = [(attempt(NOW - timedelta(minutes=5)), ended("failed", NOW - timedelta(minutes=1)))]
    assert "ended failed" in (not_now(failed, NOW, POLICY, no_rows) or "")


def test_budget_counts_only_attempts_inside_the_period() -> None:
    started = [NOW - timedelta(hours=h) for h in (1, 5, 30)]
    assert budget_spent(started, NOW, budget=2, period_hours=24)
    assert not budget_spent(started, NOW, budget=3, period_hours=24)
    assert budget_spent(started, NOW, budget=3, period_hours=48)
    assert not budget_spent([], NOW, budget=1, period_hours=24)
