"""Slice and fairness gates (pure): a challenger better overall but worse for one group is caught, naming it."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from tasks.model.gates import Evidence, evaluate_gates, failed
from tasks.model.metrics import roc_auc_or_nan as roc_auc
from tasks.model.slices import slice_evidence, slice_gates
from tasks.platform.promotion_spec import PromotionPolicyFields

REGIONS = np.array(["north", "south", "east", "west"])


def customers(seed: int = 7, rows: int = 8000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a region per row (west is a quarter), and a latent risk the models see with more or less noise."""
    rng = np.random.default_rng(seed)
    region = REGIONS[rng.integers(0, 4, rows)]
    risk = rng.normal(size=rows)
    labels = (risk + rng.normal(size=rows) > 0.8).astype(int)
    return labels, region, risk


def scores(risk: np.ndarray, noise: float | np.ndarray, seed: int) -> np.ndarray:
    return 1 / (1 + np.exp(-(risk + np.random.default_rng(seed).normal(size=risk.size) * noise)))


def test_better_overall_but_worse_on_one_slice_is_rejected_naming_it() -> None:
    labels, region, risk = customers()
    champion = scores(risk, 0.9, seed=1)
    challenger = scores(risk, np.where(region == "west", 1.6, 0.6), seed=2)  # sharper everywhere but the west
    west = region == "west"
    loss = roc_auc(labels[west], champion[west]) - roc_auc(labels[west], challenger[west])
    assert 0.03 < loss < 0.08 and roc_auc(labels, challenger) > roc_auc(labels, champion)
    policy = PromotionPolicyFields(slice_columns=["region"], bootstrap_rounds=100)

    overall = Evidence(
        challenger_auc=roc_auc(labels, challenger),
        champion_auc=roc_auc(labels, champion),
        lift_lower_bound=0.01,
        latency_ms_per_1k=1.0,
    )
    assert failed(evaluate_gates(overall, policy)) == []  # the global gates alone would promote it
    gates = slice_gates(slice_evidence(labels, challenger, champion, {"region": region}, policy), policy)

    reasons = failed(gates)
    assert len(reasons) == 1 and reasons[0].startswith("slice-regression region=west: AUC drop +0.0")
    assert {g.gate for g in gates} >= {f"slice-auc region={r}" for r in REGIONS}


def test_a_small_slice_is_reported_not_judged_and_noise_is_not_a_regression() -> None:
    labels, region, risk = customers(rows=3000)
    region = region.astype("<U8")
    region[:40] = "islands"  # 40 rows: below min_slice_rows
    champion, challenger = scores(risk, 0.9, seed=1), scores(risk, 0.9, seed=3)  # equally good, different noise
    policy = PromotionPolicyFields(
        slice_columns=["region"], min_slice_rows=200, bootstrap_rounds=100, min_slice_auc=0.6
    )
    gates = slice_gates(slice_evidence(labels, challenger, champion, {"region": region}, policy), policy)
    (small,) = [g for g in gates if "islands" in g.gate]
    assert small.passed and "40 rows (min 200, both classes): reported, not judged" in small.detail
    assert failed(gates) == []


def test_a_demographic_parity_difference_beyond_the_limit_is_rejected_with_the_number() -> None:
    labels, region, risk = customers()
    challenger = scores(risk + np.where(region == "south", 1.5, 0.0), 0.6, seed=2)  # says yes far more in the south
    policy = PromotionPolicyFields(slice_columns=["region"], max_parity_difference=0.1, bootstrap_rounds=50)
    evidence = slice_evidence(labels, challenger, None, {"region": region}, policy)
    rates = {piece.value: piece.positive_rate for piece in evidence}
    spread = max(rates.values()) - min(rates.values())
    gates = slice_gates(evidence, policy)

    (parity,) = [g for g in gates if g.gate == "parity region"]
    assert not parity.passed and parity.value == spread > 0.1
    assert f"demographic-parity difference {spread:.4f}" in parity.detail and "south" in parity.detail
    assert not any(g.gate.startswith("slice-regression") for g in gates)  # no champion: nothing to regress from


def test_an_equalized_odds_difference_beyond_the_limit_is_rejected_and_both_numbers_are_fairlearns() -> None:
    labels, region, risk = customers()
    challenger = scores(risk + np.where(region == "south", 1.5, 0.0), 0.6, seed=2)
    policy = PromotionPolicyFields(
        slice_columns=["region"], max_parity_difference=1.0, max_equalized_odds_difference=0.1, bootstrap_rounds=50
    )
    gates = slice_gates(slice_evidence(labels, challenger, None, {"region": region}, policy), policy)

    (odds,) = [g for g in gates if g.gate == "equalized-odds region"]
    (parity,) = [g for g in gates if g.gate == "parity region"]
    decisions = (challenger >= policy.decision_threshold).astype(int)
    expected_odds = equalized_odds_difference(labels, decisions, sensitive_features=region)
    expected_parity = demographic_parity_difference(labels, decisions, sensitive_features=region)
    assert odds.value == pytest.approx(expected_odds, abs=1e-12) and odds.value > 0.1 and not odds.passed
    assert parity.value == pytest.approx(expected_parity, abs=1e-12) and parity.passed
    assert f"equalized-odds difference {odds.value:.4f}" in odds.detail and "south" in odds.detail


def test_fair_decisions_pass_the_equalized_odds_gate() -> None:
    labels, region, risk = customers()
    policy = PromotionPolicyFields(slice_columns=["region"], max_equalized_odds_difference=0.1, bootstrap_rounds=50)
    gates = slice_gates(slice_evidence(labels, scores(risk, 0.6, seed=2), None, {"region": region}, policy), policy)
    (odds,) = [g for g in gates if g.gate == "equalized-odds region"]
    assert odds.passed and 0 < odds.value <= 0.1
