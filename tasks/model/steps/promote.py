"""Promotion and rollback tasks: judge the challenger on its own holdout, then move the champion or record why not.

Rejection is a normal outcome: the decision is returned, recorded in the history, tagged on the version, emitted
and kept as the `promotion-<dataset>` artifact, with every gate and its numbers. The champion moves by
compare-and-set on the history (tasks.model.history), never under a lock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect.client.schemas.objects import State
from prefect.states import Completed

from tasks.model import champions, history
from tasks.model.gates import PromotionDecision, evaluate_gates, failed
from tasks.model.registry import (
    CHALLENGER,
    add_to_description,
    alias_version,
    client_for,
    release_alias,
    require_version,
)
from tasks.model.slices import slice_gates
from tasks.model.steps.evidence import gather_evidence
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.errors import ConfigurationError
from tasks.platform.retry import io_task, step_task

__all__ = ["PromotionDecision", "load_dataset"]  # re-exported: flows import steps only


@io_task
def resolve_challenger(cfg: DatasetConfig, version: str) -> str:
    """The given version, or the one the `challenger` alias points at."""
    if version:
        return require_version(cfg, version)
    resolved = alias_version(cfg, CHALLENGER)
    if not resolved:
        raise ConfigurationError(f"{cfg.model_name} has no challenger: run `train` for dataset {cfg.name!r} first")
    return resolved


@step_task
def judge(cfg: DatasetConfig, challenger_version: str) -> PromotionDecision:
    """Score challenger and champion on the challenger's recorded holdout and evaluate every gate, against the
    champion and history sequence read now (the alias first made to agree with the history)."""
    log = history.read_recent(cfg)
    history.project_alias(cfg, log)
    champion = champions.champion(log)
    decision = PromotionDecision(
        dataset=cfg.name,
        model=cfg.model_name,
        challenger_version=challenger_version,
        champion_version=champion,
        judged_at=champions.head(log),
        promoted=False,
        gates=[],
        reasons=[f"v{challenger_version} is the champion already: nothing to decide"],
        outcome="unchanged",
    )
    if challenger_version == champion:
        return decision
    evidence, slices = gather_evidence(cfg, challenger_version, champion)
    gates = evaluate_gates(evidence, cfg.promotion) + slice_gates(slices, cfg.promotion)
    passed = not failed(gates)
    outcome = "promoted" if passed else "rejected"
    return decision.model_copy(
        update={"promoted": passed, "gates": gates, "reasons": failed(gates), "outcome": outcome}
    )


@io_task
def apply_decision(cfg: DatasetConfig, decision: PromotionDecision) -> PromotionDecision:
    """Record the decision; a promotion moves the alias only if its record is the one right after the sequence it was
    judged against (else `stale-champion`: another decision came first). Retried on transient errors: a retry finds
    its own record and goes on."""
    if decision.outcome == "unchanged":
        return decision
    version, champion = decision.challenger_version, decision.champion_version
    if decision.promoted:
        why = "; ".join(["all gates passed", *([decision.approval] if decision.approval else [])])
        entry = history.record(cfg, "promote", champion, version, why)
        written = history.write_at(cfg, entry, decision.judged_at + 1)
        if written is not None:
            history.move_alias(cfg, written)
            decision = decision.model_copy(update={"record": written})
        else:
            why = f"stale-champion: another decision was recorded after #{decision.judged_at}; judge again"
            decision = decision.model_copy(update={"promoted": False, "reasons": [why], "outcome": "stale-champion"})
    if decision.outcome == "rejected":
        entry = history.record(cfg, "reject", champion, version, "; ".join(decision.reasons))
        decision = decision.model_copy(update={"record": history.append(cfg, entry)})
    client_for(cfg).set_model_version_tag(cfg.model_name, version, "driftloop.promotion", decision.outcome)
    if decision.record is not None:  # decided: the version is no longer waiting for judgement
        add_to_description(cfg, version, f"Decision #{decision.record.sequence}: {decision}")
        release_alias(cfg, CHALLENGER, version)
    return decision


@io_task
def announce_decision(cfg: DatasetConfig, decision: PromotionDecision) -> None:
    """Emit promoted or rejected with the gates and numbers, and keep the `promotion-<dataset>` table."""
    if decision.outcome == "unchanged":
        return
    events.announce(_announcement(cfg, decision))
    table = [
        {
            **gate.model_dump(),
            "challenger_version": decision.challenger_version,
            "champion_version": decision.champion_version,
        }
        for gate in decision.gates
    ]
    publish_table("promotion", cfg.name, table, str(decision))


def _announcement(cfg: DatasetConfig, decision: PromotionDecision) -> events.Announcement:
    """One event per history record (the id reconcile looks for); a stale-champion decision recorded nothing, so
    its id is fixed by the challenger and the sequence it lost at."""
    payload = decision.model_dump(mode="json", exclude={"record"})
    if decision.record is not None:  # the record's fields too: a re-announcement (the record alone) is a subset
        return history.announcement(cfg, decision.record, decision.record.model_dump(mode="json") | payload)
    lost = events.deterministic_id(
        events.MODEL_REJECTED, cfg.model_name, decision.challenger_version, str(decision.judged_at)
    )
    resource = events.model_resource(cfg.model_name, cfg.name)
    return events.Announcement(events.MODEL_REJECTED, resource, payload, lost, datetime.now(UTC))


def decision_state(decision: PromotionDecision) -> State[PromotionDecision]:
    """The run's final state named by the outcome (`Promoted`, `Rejected`, `Unchanged`, `Stale champion`), with the
    decision as its message, so the runs list shows every decision without opening a run."""
    return Completed(name=state_name(decision), message=str(decision), data=decision)


def state_name(decision: PromotionDecision) -> str:
    return decision.outcome.replace("-", " ").capitalize()
