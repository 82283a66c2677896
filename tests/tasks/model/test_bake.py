"""The bake period's rules, pure: which version shadows a new champion, and when a batch shows it degraded."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.model.bake import judge_bake, shadow_of
from tasks.model.champions import Action
from tasks.model.scoring import ScoringHealth
from tasks.platform.promotion_spec import PromotionPolicyFields
from tests.tasks.model.test_champions import log_of

POLICY = PromotionPolicyFields(bootstrap_rounds=100, min_bake_rows=500, rollback_margin=0.02)
HEALTHY = ScoringHealth(rows=4000, failed_rows=0, latency_ms_per_1k=3.0)


def labelled(rows: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a score that ranks them well (AUC about 0.85) and a score that barely does (about 0.55)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.3).astype(np.int64)
    good = labels * 1.5 + rng.normal(0, 1, rows)
    poor = labels * 0.2 + rng.normal(0, 1, rows)
    return labels, good, poor


def test_the_champion_a_promotion_replaced_shadows_it_until_the_bake_is_over() -> None:
    promoted = log_of(("promote", None, "1"), ("promote", "1", "2"))
    assert shadow_of(promoted, "2", checked=0, bake_batches=3) == "1"
    assert shadow_of(promoted, "2", checked=2, bake_batches=3) == "1"
    assert shadow_of(promoted, "2", checked=3, bake_batches=3) is None  # the bake is over
    assert shadow_of(promoted, "2", checked=0, bake_batches=0) is None  # no bake at all


@pytest.mark.parametrize(
    ("steps", "champion", "shadow"),
    [
        ([("promote", None, "1")], "1", None),  # a first champion replaced nobody
        ([("promote", None, "1"), ("promote", "1", "2"), ("rollback", "2", "1")], "1", None),  # a rollback ends it
        ([("promote", None, "1"), ("promote", "1", "2"), ("reject", "2", "3")], "2", "1"),  # a rejection does not
    ],
)
def test_only_the_newest_move_being_this_champions_promotion_makes_a_shadow(
    steps: list[tuple[Action, str | None, str]], champion: str, shadow: str | None
) -> None:
    assert shadow_of(log_of(*steps), champion, checked=0, bake_batches=3) == shadow


def test_a_champion_clearly_worse_than_the_one_it_replaced_is_degraded_with_the_numbers() -> None:
    labels, good, poor = labelled(3000)
    verdict = judge_bake(labels, poor, good, HEALTHY, ("2", "1"), POLICY)
    assert verdict.outcome == "degraded"
    assert verdict.drop_lower_bound is not None and verdict.drop_lower_bound > POLICY.rollback_margin
    assert verdict.previous_auc is not None and verdict.champion_auc is not None
    assert verdict.previous_auc - verdict.champion_auc > 0.2
    assert "v1 beats v2 on 3,000 labelled rows" in verdict.reasons[0]


def test_a_champion_as_good_or_better_is_kept() -> None:
    labels, good, poor = labelled(3000)
    assert judge_bake(labels, good, poor, HEALTHY, ("2", "1"), POLICY).outcome == "kept"
    same = judge_bake(labels, good, good, HEALTHY, ("2", "1"), POLICY)
    assert same.outcome == "kept" and same.reasons == []


def test_a_loss_within_the_margin_is_kept() -> None:
    labels, good, _ = labelled(3000)
    slightly = good + np.random.default_rng(3).normal(0, 0.15, good.size)  # a little noise: a small loss
    policy = POLICY.model_copy(update={"rollback_margin": 0.05})
    verdict = judge_bake(labels, slightly, good, HEALTHY, ("2", "1"), policy)
    assert verdict.outcome == "kept" and verdict.champion_auc is not None and verdict.previous_auc is not None
    assert 0 < verdict.previous_auc - verdict.champion_auc < 0.05


@pytest.mark.parametrize("rows", [400, 0])
def test_too_few_labelled_rows_is_inconclusive_however_bad_they_look(rows: int) -> None:
    labels, good, poor = labelled(rows)
    verdict = judge_bake(labels, poor, good, HEALTHY, ("2", "1"), POLICY)
    assert verdict.outcome == "inconclusive" and verdict.drop_lower_bound is None
    assert verdict.reasons == [f"{rows:,} labelled rows (min 500, both classes): not judged"]


def test_one_class_only_is_inconclusive() -> None:
    labels, good, poor = labelled(2000)
    verdict = judge_bake(np.zeros_like(labels), poor, good, HEALTHY, ("2", "1"), POLICY)
    assert verdict.outcome == "inconclusive" and verdict.champion_auc is None


def test_scoring_that_breaks_the_sla_is_degraded_even_without_labels() -> None:
    labels, good, _ = labelled(100)
    failing = ScoringHealth(rows=4000, failed_rows=12, latency_ms_per_1k=80.0)
    verdict = judge_bake(labels, good, good, failing, ("2", "1"), POLICY)
    assert verdict.outcome == "degraded"
    assert verdict.reasons == [
        "12 of 4,000 rows got no finite score",
        "scoring took 80.0 ms per 1,000 rows (SLA 50.0)",
    ]
