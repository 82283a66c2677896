"""The bake period of a new champion, pure: which version shadows it, and whether a batch shows it degraded.

For `bake_batches` batches after a promotion, the champion it replaced scores each batch too (its predictions are
kept under its own version, never served). Monitor then compares the two on the batch's labelled rows: the new
champion is *degraded* when the previous one beats it by more than `rollback_margin` at `confidence` (a paired
bootstrap bound, as the lift gate), or when its own scoring broke the SLA (rows it failed to score, or latency over
`max_latency_ms_per_1k`). Too few labelled rows, or one class only, is *inconclusive*: no action. A rollback, or a
later promotion, starts a new tenure and so ends the bake.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from tasks.model.champions import HistoryRecord, moves
from tasks.model.gates import lift_lower_bound
from tasks.model.metrics import roc_auc
from tasks.model.scoring import ScoringHealth
from tasks.platform.promotion_spec import PromotionPolicyFields

BakeOutcome = Literal["kept", "degraded", "inconclusive"]


class BakeVerdict(BaseModel):
    """One batch of the bake period: the new champion against the previous one on the same labelled rows."""

    champion_version: str
    previous_version: str
    labelled_rows: int
    champion_auc: float | None
    previous_auc: float | None
    drop_lower_bound: float | None  # at `confidence`, the previous champion's AUC is above the new one's by this
    margin: float
    scoring: ScoringHealth
    outcome: BakeOutcome
    reasons: list[str]


def replaced_by(log: list[HistoryRecord], champion: str) -> str | None:
    """The champion that `champion`'s promotion replaced, while that promotion is the newest move; otherwise None
    (a first champion, or one a rollback restored)."""
    moved = moves(log)
    newest = moved[-1] if moved else None
    if newest is None or newest.action != "promote" or newest.to_version != champion:
        return None
    return newest.from_version


def shadow_of(log: list[HistoryRecord], champion: str, checked: int, bake_batches: int) -> str | None:
    """The version that scores each batch beside `champion`: the one it replaced, until `bake_batches` batches of
    its tenure were checked."""
    return replaced_by(log, champion) if checked < bake_batches else None


def judge_bake(
    labels: np.ndarray,
    champion: np.ndarray,
    previous: np.ndarray,
    scoring: ScoringHealth,
    versions: tuple[str, str],
    policy: PromotionPolicyFields,
) -> BakeVerdict:
    """The verdict on one batch; `labels` holds the labelled rows only, and both score arrays the same rows."""
    reasons = _sla_breaches(scoring, policy)
    enough = labels.size >= policy.min_bake_rows and 0 < labels.sum() < labels.size
    bound = lift_lower_bound(labels, previous, champion, policy.bootstrap_rounds, policy.confidence) if enough else None
    if bound is not None and bound > policy.rollback_margin:
        reasons.append(
            f"v{versions[1]} beats v{versions[0]} on {labels.size:,} labelled rows by at least {bound:.3f} AUC at "
            f"{policy.confidence:.0%} (margin {policy.rollback_margin})"
        )
    outcome: BakeOutcome = "degraded" if reasons else ("kept" if enough else "inconclusive")
    if outcome == "inconclusive":
        reasons.append(f"{labels.size:,} labelled rows (min {policy.min_bake_rows}, both classes): not judged")
    return BakeVerdict(
        champion_version=versions[0],
        previous_version=versions[1],
        labelled_rows=int(labels.size),
        champion_auc=roc_auc(labels, champion),
        previous_auc=roc_auc(labels, previous),
        drop_lower_bound=bound,
        margin=policy.rollback_margin,
        scoring=scoring,
        outcome=outcome,
        reasons=reasons,
    )


def _sla_breaches(scoring: ScoringHealth, policy: PromotionPolicyFields) -> list[str]:
    breaches = []
    if scoring.failed_rows:
        breaches.append(f"{scoring.failed_rows:,} of {scoring.rows:,} rows got no finite score")
    if scoring.latency_ms_per_1k > policy.max_latency_ms_per_1k:
        breaches.append(
            f"scoring took {scoring.latency_ms_per_1k:.1f} ms per 1,000 rows (SLA {policy.max_latency_ms_per_1k})"
        )
    return breaches
