"""Promotion gates (pure): ROC AUC, the paired bootstrap bound on the lift, and every gate evaluated together.

A challenger becomes champion only when every gate passes. A tie fails the lift gate (zero lift is not a lift), so a
retrained but unchanged model keeps the current champion.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from tasks.model.champions import HistoryRecord
from tasks.model.metrics import roc_auc_or_nan
from tasks.platform.promotion_spec import PromotionPolicyFields

BOOTSTRAP_SEED = 20240601


class GateResult(BaseModel):
    """One gate: what was measured, against which threshold, and whether it passed."""

    gate: str
    passed: bool
    value: float
    threshold: float
    detail: str


class Evidence(BaseModel):
    """The numbers the gates judge, measured on the challenger's recorded holdout."""

    challenger_auc: float
    champion_auc: float | None
    lift_lower_bound: float | None
    latency_ms_per_1k: float
    shadow_rows: int | None = None  # online records scored in shadow; None where the policy does not ask


Outcome = Literal["promoted", "rejected", "stale-champion", "unchanged"]


class PromotionDecision(BaseModel):
    """The outcome of a promotion: every gate with its numbers, and why it was promoted or not.

    `judged_at` is the history sequence the decision was judged against: the decision may move the champion only by
    writing the record right after it. `stale-champion`: another decision wrote it first. `unchanged`: the challenger
    is the champion already, so there was nothing to decide.
    """

    dataset: str
    model: str
    challenger_version: str
    champion_version: str | None
    promoted: bool
    gates: list[GateResult]
    reasons: list[str]
    judged_at: int = 0
    outcome: Outcome = "rejected"
    record: HistoryRecord | None = None  # the history record that holds the decision, once written
    approval: str = ""  # a person's answer and reason, where the promotion policy requires one

    def __str__(self) -> str:
        return f"{self.outcome} v{self.challenger_version}" + (f": {'; '.join(self.reasons)}" if self.reasons else "")


def lift_lower_bound(
    labels: np.ndarray, challenger: np.ndarray, champion: np.ndarray, rounds: int, confidence: float
) -> float:
    """One-sided lower bound of AUC(challenger) - AUC(champion) at `confidence`, from paired seeded resamples.

    Both models are scored on the same resampled rows in each round, so the bound reflects the lift itself rather
    than the noise of each AUC separately.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    lifts = np.empty(rounds)
    for i in range(rounds):
        rows = rng.integers(0, labels.size, labels.size)
        lifts[i] = roc_auc_or_nan(labels[rows], challenger[rows]) - roc_auc_or_nan(labels[rows], champion[rows])
    return float(np.nanquantile(lifts, 1.0 - confidence))


def evaluate_gates(evidence: Evidence, policy: PromotionPolicyFields) -> list[GateResult]:
    """Every gate that applies, each with its numbers; lift gates apply only when there is a champion."""
    results = [
        GateResult(
            gate="auc-floor",
            passed=evidence.challenger_auc >= policy.min_auc,
            value=evidence.challenger_auc,
            threshold=policy.min_auc,
            detail=f"challenger holdout AUC {evidence.challenger_auc:.4f} vs floor {policy.min_auc:.4f}",
        ),
        GateResult(
            gate="latency",
            passed=evidence.latency_ms_per_1k <= policy.max_latency_ms_per_1k,
            value=evidence.latency_ms_per_1k,
            threshold=policy.max_latency_ms_per_1k,
            detail=f"{evidence.latency_ms_per_1k:.2f} ms per 1k rows vs SLA {policy.max_latency_ms_per_1k:.2f}",
        ),
    ]
    if evidence.champion_auc is not None:
        results.extend(_lift_gates(evidence, evidence.champion_auc, policy))
    if policy.min_shadow_rows and evidence.shadow_rows is not None:
        results.append(
            GateResult(
                gate="shadow",
                passed=evidence.shadow_rows >= policy.min_shadow_rows,
                value=float(evidence.shadow_rows),
                threshold=float(policy.min_shadow_rows),
                detail=f"{evidence.shadow_rows:,} online records scored in shadow, {policy.min_shadow_rows:,} required",
            )
        )
    return results


def failed(results: list[GateResult]) -> list[str]:
    """The reasons of the failing gates, in gate order (empty when every gate passed)."""
    return [f"{r.gate}: {r.detail}" for r in results if not r.passed]


def _lift_gates(evidence: Evidence, champion_auc: float, policy: PromotionPolicyFields) -> list[GateResult]:
    lift = evidence.challenger_auc - champion_auc
    bound = evidence.lift_lower_bound if evidence.lift_lower_bound is not None else float("nan")
    level = f"{policy.confidence:.0%}"
    return [
        GateResult(
            gate="lift",
            passed=lift >= policy.min_lift and lift > 0,
            value=lift,
            threshold=policy.min_lift,
            detail=f"AUC lift {lift:+.4f} (challenger {evidence.challenger_auc:.4f}, champion {champion_auc:.4f})",
        ),
        GateResult(
            gate="lift-confidence",
            passed=bool(bound > 0),
            value=bound,
            threshold=0.0,
            detail=f"{level} bootstrap lower bound of the lift {bound:+.4f} ({policy.bootstrap_rounds} resamples)",
        ),
    ]
