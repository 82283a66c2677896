"""The retrain budget and idempotency key: pure rules, no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.model.steps.retrain import budget_spent, idempotency_key

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_budget_counts_only_claims_inside_the_period() -> None:
    claimed = [NOW - timedelta(hours=h) for h in (1, 5, 30)]
    assert budget_spent(claimed, NOW, budget=2, period_hours=24)
    assert not budget_spent(claimed, NOW, budget=3, period_hours=24)
    assert budget_spent(claimed, NOW, budget=3, period_hours=48)
    assert not budget_spent([], NOW, budget=1, period_hours=24)


def test_the_key_names_the_model_and_the_champion_it_would_replace() -> None:
    assert idempotency_key("credit-risk", "4") == "credit-risk-champion-v4"
    assert idempotency_key("credit-risk", None) == "credit-risk-champion-vnone"
