"""Slice and fairness gates (pure): the challenger judged on each group of customers, not only on everyone.

For each slice column of the promotion policy, every value with at least `min_slice_rows` holdout rows and both
classes is judged: its AUC against `min_slice_auc`, and, with a champion, its AUC drop against the champion on the
same rows, which fails when it exceeds `max_slice_regression` and its paired bootstrap lower bound is above zero (a
real drop, not noise). Smaller slices are reported, not judged. `max_parity_difference` bounds the demographic-parity
difference between a column's judged slices: the spread of their shares of positive decisions at `decision_threshold`;
`max_equalized_odds_difference` the equalized-odds difference: the larger spread of their true-positive and
false-positive rates at that threshold (fairlearn's definitions, tested equal).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from tasks.model.gates import GateResult, lift_lower_bound
from tasks.model.metrics import roc_auc_or_nan
from tasks.platform.promotion_spec import PromotionPolicyFields


class SliceEvidence(BaseModel):
    """One slice of the holdout: its size, both models' AUC on it, and the challenger's share of positives."""

    column: str
    value: str
    rows: int
    judged: bool  # enough rows of both classes
    challenger_auc: float
    champion_auc: float | None
    drop_lower_bound: float | None  # lower bound of AUC(champion) - AUC(challenger) on the slice
    positive_rate: float
    true_positive_rate: float | None = None  # among the slice's positives, the share decided positive (None: none)
    false_positive_rate: float | None = None  # among its negatives


def slice_evidence(
    labels: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    groups: dict[str, np.ndarray],
    policy: PromotionPolicyFields,
) -> list[SliceEvidence]:
    """The numbers of every slice of every slice column present in `groups`, in column then value order."""
    out = []
    for column, values in groups.items():
        for value in sorted(set(values.tolist())):
            rows = values == value
            out.append(_one(column, str(value), labels[rows], challenger[rows], _subset(champion, rows), policy))
    return out


def slice_gates(slices: list[SliceEvidence], policy: PromotionPolicyFields) -> list[GateResult]:
    """A gate per judged slice (floor, and regression where there is a champion), a reported-only row per small
    slice, and a parity gate per column when the policy bounds it."""
    results: list[GateResult] = []
    for piece in slices:
        results.extend(_slice_results(piece, policy))
    for column in dict.fromkeys(piece.column for piece in slices):
        judged = [piece for piece in slices if piece.column == column and piece.judged]
        if len(judged) < 2:
            continue
        if policy.max_parity_difference is not None:
            results.append(_parity(column, judged, policy.max_parity_difference, policy.decision_threshold))
        if policy.max_equalized_odds_difference is not None:
            results.append(_equalized_odds(column, judged, policy.max_equalized_odds_difference))
    return results


def _one(
    column: str,
    value: str,
    labels: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    policy: PromotionPolicyFields,
) -> SliceEvidence:
    judged = labels.size >= policy.min_slice_rows and 0 < labels.sum() < labels.size
    bound = None
    if judged and champion is not None:
        bound = lift_lower_bound(labels, champion, challenger, policy.bootstrap_rounds, policy.confidence)
    return SliceEvidence(
        column=column,
        value=value,
        rows=int(labels.size),
        judged=bool(judged),
        challenger_auc=roc_auc_or_nan(labels, challenger),
        champion_auc=roc_auc_or_nan(labels, champion) if champion is not None else None,
        drop_lower_bound=bound,
        positive_rate=float(np.mean(challenger >= policy.decision_threshold)) if labels.size else 0.0,
        true_positive_rate=_decided_share(challenger[labels == 1], policy.decision_threshold),
        false_positive_rate=_decided_share(challenger[labels == 0], policy.decision_threshold),
    )


def _decided_share(scores: np.ndarray, threshold: float) -> float | None:
    return float(np.mean(scores >= threshold)) if scores.size else None


def _slice_results(piece: SliceEvidence, policy: PromotionPolicyFields) -> list[GateResult]:
    name = f"{piece.column}={piece.value}"
    if not piece.judged:
        detail = f"{piece.rows} rows (min {policy.min_slice_rows}, both classes): reported, not judged"
        return [GateResult(gate=f"slice {name}", passed=True, value=piece.challenger_auc, threshold=0.0, detail=detail)]
    floor = GateResult(
        gate=f"slice-auc {name}",
        passed=piece.challenger_auc >= policy.min_slice_auc,
        value=piece.challenger_auc,
        threshold=policy.min_slice_auc,
        detail=f"challenger AUC {piece.challenger_auc:.4f} on {piece.rows} rows vs floor {policy.min_slice_auc:.4f}",
    )
    if piece.champion_auc is None or piece.drop_lower_bound is None:
        return [floor]
    drop = piece.champion_auc - piece.challenger_auc
    real = piece.drop_lower_bound > 0
    regression = GateResult(
        gate=f"slice-regression {name}",
        passed=not (drop > policy.max_slice_regression and real),
        value=drop,
        threshold=policy.max_slice_regression,
        detail=f"AUC drop {drop:+.4f} vs champion on {piece.rows} rows (max {policy.max_slice_regression:.4f}; "
        f"{policy.confidence:.0%} lower bound {piece.drop_lower_bound:+.4f})",
    )
    return [floor, regression]


def _parity(column: str, judged: list[SliceEvidence], limit: float, threshold: float) -> GateResult:
    rates = {piece.value: piece.positive_rate for piece in judged}
    spread = max(rates.values()) - min(rates.values())
    shares = ", ".join(f"{value} {rate:.3f}" for value, rate in rates.items())
    return _spread_gate(
        f"parity {column}", "demographic-parity", spread, limit, f"positive share at {threshold:g}: {shares}"
    )


def _equalized_odds(column: str, judged: list[SliceEvidence], limit: float) -> GateResult:
    """The larger of the spreads of true-positive and false-positive rates between the slices (judged slices have
    both classes, so both rates exist)."""
    tpr = [piece.true_positive_rate or 0.0 for piece in judged]
    fpr = [piece.false_positive_rate or 0.0 for piece in judged]
    spread = max(max(tpr) - min(tpr), max(fpr) - min(fpr))
    rates = ", ".join(f"{p.value} {p.true_positive_rate:.3f}/{p.false_positive_rate:.3f}" for p in judged)
    return _spread_gate(
        f"equalized-odds {column}", "equalized-odds", spread, limit, f"true/false-positive rates: {rates}"
    )


def _spread_gate(gate: str, measure: str, spread: float, limit: float, per_slice: str) -> GateResult:
    detail = f"{measure} difference {spread:.4f} ({per_slice})"
    return GateResult(gate=gate, passed=spread <= limit, value=spread, threshold=limit, detail=detail)


def _subset(scores: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return scores[rows] if scores is not None else None
