"""Promotion gates (pure): AUC, the paired bootstrap bound, and every gate outcome in one table."""

from __future__ import annotations

import numpy as np
import pytest

from blocks.models import PromotionPolicy
from tasks.model.gates import Evidence, evaluate_gates, failed, lift_lower_bound
from tasks.model.metrics import roc_auc_or_nan as roc_auc

POLICY = PromotionPolicy(min_auc=0.65, min_lift=0.002, confidence=0.9, bootstrap_rounds=50, max_latency_ms_per_1k=50)


def test_roc_auc_matches_pairwise_definition_with_ties() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
    pairs = [(p, n) for p in scores[labels == 1] for n in scores[labels == 0]]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(labels, scores) == pytest.approx(expected)
    assert np.isnan(roc_auc(np.ones(3), np.arange(3.0)))


def test_bootstrap_bound_separates_real_lift_from_a_tie() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 3000)
    weak = rng.random(3000) + 0.2 * labels
    strong = rng.random(3000) + 0.8 * labels
    assert lift_lower_bound(labels, strong, weak, 100, 0.9) > 0.05
    assert lift_lower_bound(labels, weak, weak, 100, 0.9) == 0.0
    assert lift_lower_bound(labels, weak, strong, 100, 0.9) < 0


@pytest.mark.parametrize(
    ("challenger", "champion", "bound", "latency", "failing"),
    [
        (0.80, None, None, 5.0, []),  # no champion: only absolute gates
        (0.60, None, None, 5.0, ["auc-floor"]),
        (0.80, 0.75, 0.02, 5.0, []),
        (0.80, 0.80, 0.0, 5.0, ["lift", "lift-confidence"]),  # a tie keeps the champion
        (0.801, 0.80, 0.0005, 5.0, ["lift"]),  # positive but below min_lift
        (0.80, 0.79, -0.01, 5.0, ["lift-confidence"]),  # lift not significant
        (0.60, 0.70, -0.12, 80.0, ["auc-floor", "latency", "lift", "lift-confidence"]),  # every violation at once
    ],
)
def test_gates_report_every_violation_with_numbers(
    challenger: float, champion: float | None, bound: float | None, latency: float, failing: list[str]
) -> None:
    evidence = Evidence(
        challenger_auc=challenger, champion_auc=champion, lift_lower_bound=bound, latency_ms_per_1k=latency
    )
    results = evaluate_gates(evidence, POLICY)
    assert [r.gate for r in results if not r.passed] == failing
    assert len(results) == (2 if champion is None else 4)
    reasons = failed(results)
    assert [r.split(":")[0] for r in reasons] == failing
    for result in results:
        assert f"{result.value:.4f}"[:4] in result.detail or result.gate in {"latency", "lift-confidence"}
