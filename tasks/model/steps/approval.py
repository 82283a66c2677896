"""A person's sign-off on a promotion that passed every gate, where the promotion policy requires one.

The run pauses with a typed form (approve or reject, and why) whose description is the gate table; the UI's Resume
button shows it, `driftloop approve` answers it from a shell. No answer within `approval_timeout_hours` rejects.
"""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.states import Running
from pydantic import Field

from tasks.model.gates import PromotionDecision
from tasks.platform import events
from tasks.platform.config import DatasetConfig

POLL_SECONDS = 5


class Approval(RunInput):
    approve: bool = Field(description="Promote this challenger?")
    reason: str = Field(default="", description="Why; it is recorded in the champion's history.")


def await_approval(cfg: DatasetConfig, decision: PromotionDecision) -> PromotionDecision:
    """Where the policy requires it, hold a passing decision until a person answers; the decision as answered."""
    if not (decision.promoted and cfg.promotion.require_approval):
        return decision
    hours = cfg.promotion.approval_timeout_hours
    _announce_waiting(cfg, decision)
    form = Approval.with_initial_data(description=_gate_table(decision, hours), approve=False)
    try:
        answer = pause_flow_run(wait_for_input=form, timeout=int(hours * 3600), poll_interval=POLL_SECONDS)
    except FlowPauseTimeout:
        _run_again()
        return _rejected(decision, f"no answer within {hours:g} h")
    reason = answer.reason or "no reason given"
    if answer.approve:
        return decision.model_copy(update={"approval": f"approved by a person: {reason}"})
    return _rejected(decision, f"rejected by a person: {reason}")


def answer(flow_run_id: UUID, approve: bool, reason: str) -> None:
    """Answer a promotion waiting for approval, as the UI's form does."""
    resume_flow_run(flow_run_id, run_input={"approve": approve, "reason": reason})


def _rejected(decision: PromotionDecision, why: str) -> PromotionDecision:
    return decision.model_copy(update={"promoted": False, "outcome": "rejected", "reasons": [why], "approval": why})


def _run_again() -> None:
    """Back to Running after an unanswered pause, so the rejection is recorded by this run's own tasks (the server
    would otherwise fail the run: no answer is a decision, not a failure)."""
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(context.flow_run.id, Running(message="no approval in time"), force=True)


def _announce_waiting(cfg: DatasetConfig, decision: PromotionDecision) -> None:
    resource = events.model_resource(cfg.model_name, cfg.name)
    event_id = events.deterministic_id("awaiting", cfg.model_name, decision.challenger_version, str(decision.judged_at))
    events.emit(events.MODEL_AWAITING_APPROVAL, resource, decision.model_dump(mode="json"), event_id)


def _gate_table(decision: PromotionDecision, hours: float) -> str:
    champion = f"v{decision.champion_version}" if decision.champion_version else "(none)"
    rows = [
        f"| {g.gate} | {'pass' if g.passed else 'FAIL'} | {g.value:.4g} | {g.threshold:.4g} |" for g in decision.gates
    ]
    return "\n".join(
        [
            f"**{decision.model}**: v{decision.challenger_version} passed every gate against {champion}.",
            f"Approve to promote it; reject, or no answer within {hours:g} h, keeps {champion}.",
            "",
            "| gate | result | value | threshold |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
    )
