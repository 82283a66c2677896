"""Promotion and rollback tasks: judge the challenger on its own holdout, then move the champion or record why not.

Rejection is a normal outcome: the decision is returned, recorded in the history, tagged on the version, emitted
and kept as the `promotion-<dataset>` artifact, with every gate and its numbers.
"""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_table_artifact

from tasks.model.gates import Evidence, PromotionDecision, evaluate_gates, failed, lift_lower_bound
from tasks.model.history import move_champion, previous_champion, record_without_move
from tasks.model.metrics import roc_auc_or_nan
from tasks.model.registry import CHALLENGER, alias_version, champion_version, client_for, load_model
from tasks.model.scoring import latency_ms_per_1k, predict
from tasks.model.steps.score import read_holdout
from tasks.platform import events
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.errors import ConfigurationError, StaleChampion
from tasks.platform.retry import io_task, step_task

__all__ = ["PromotionDecision", "load_dataset"]  # re-exported: flows import steps only


@io_task
def resolve_challenger(cfg: DatasetConfig, version: str) -> str:
    """The given version, or the one the `challenger` alias points at."""
    resolved = version or alias_version(cfg, CHALLENGER)
    if not resolved:
        raise ConfigurationError(f"{cfg.model_name} has no challenger: run `train` for dataset {cfg.name!r} first")
    return resolved


@step_task
def judge(cfg: DatasetConfig, challenger_version: str) -> PromotionDecision:
    """Score challenger and champion on the challenger's recorded holdout and evaluate every gate."""
    champion = champion_version(cfg)
    holdout = read_holdout(cfg, challenger_version)
    labels = holdout.get_column(cfg.columns.target).to_numpy()
    challenger_model = load_model(cfg, challenger_version)
    challenger_scores = predict(challenger_model, holdout, cfg.columns)
    champion_scores = predict(load_model(cfg, champion), holdout, cfg.columns) if champion else None
    policy = cfg.promotion
    evidence = Evidence(
        challenger_auc=roc_auc_or_nan(labels, challenger_scores),
        champion_auc=roc_auc_or_nan(labels, champion_scores) if champion_scores is not None else None,
        lift_lower_bound=lift_lower_bound(
            labels, challenger_scores, champion_scores, policy.bootstrap_rounds, policy.confidence
        )
        if champion_scores is not None
        else None,
        latency_ms_per_1k=latency_ms_per_1k(challenger_model, holdout, cfg.columns),
    )
    gates = evaluate_gates(evidence, policy)
    return PromotionDecision(
        dataset=cfg.name,
        model=cfg.model_name,
        challenger_version=challenger_version,
        champion_version=champion,
        promoted=not failed(gates),
        gates=gates,
        reasons=failed(gates),
    )


@step_task
def apply_decision(cfg: DatasetConfig, decision: PromotionDecision) -> PromotionDecision:
    """Move the champion if every gate passed and it has not moved since; record and tag the outcome either way."""
    if decision.promoted:
        try:
            move_champion(cfg, decision.challenger_version, decision.champion_version, "promote", "all gates passed")
        except StaleChampion as exc:
            decision = decision.model_copy(update={"promoted": False, "reasons": [f"stale-champion: {exc}"]})
    if not decision.promoted:
        why = "; ".join(decision.reasons)
        record_without_move(cfg, "reject", decision.champion_version, decision.challenger_version, why)
    outcome = "promoted" if decision.promoted else "rejected"
    client_for(cfg).set_model_version_tag(cfg.model_name, decision.challenger_version, "driftloop.promotion", outcome)
    return decision


@io_task
def announce_decision(cfg: DatasetConfig, decision: PromotionDecision) -> None:
    """Emit promoted or rejected with the gates and numbers, and keep the `promotion-<dataset>` table."""
    event = events.MODEL_PROMOTED if decision.promoted else events.MODEL_REJECTED
    events.emit(event, events.model_resource(cfg.model_name, cfg.name), decision.model_dump(mode="json"))
    table = [
        {
            **gate.model_dump(),
            "challenger_version": decision.challenger_version,
            "champion_version": decision.champion_version,
        }
        for gate in decision.gates
    ]
    create_table_artifact(table, key=f"promotion-{cfg.name}", description=str(decision))


@io_task
def rollback_target(cfg: DatasetConfig, to_version: str) -> str:
    """The given version, or the champion before the current one according to the recorded history."""
    target = to_version or previous_champion(cfg)
    if not target:
        raise ConfigurationError(f"{cfg.model_name}: no previous champion in the history; pass to_version")
    return target


@step_task
def roll_back(cfg: DatasetConfig, to_version: str) -> dict[str, Any]:
    """Move the champion to `to_version` (compare-and-set against the champion read just before) and record it."""
    current = champion_version(cfg)
    return move_champion(cfg, to_version, current, "rollback", f"rollback from v{current} to v{to_version}")


@io_task
def announce_rollback(cfg: DatasetConfig, move: dict[str, Any]) -> None:
    events.emit(events.MODEL_ROLLED_BACK, events.model_resource(cfg.model_name, cfg.name), move)
    create_table_artifact([move], key=f"rollback-{cfg.name}", description=move["why"])
