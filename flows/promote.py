"""The promote flow: gate the challenger against the champion on the same holdout; move the alias only if all pass."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.model.steps.approval import await_approval
from tasks.model.steps.promote import (
    PromotionDecision,
    announce_decision,
    apply_decision,
    decision_state,
    judge,
    load_dataset,
    resolve_challenger,
)


@flow(name="promote", log_prints=True)
def promote(dataset: str = "", challenger_version: int | str = "") -> State[PromotionDecision]:
    """Judge a challenger on its recorded holdout and promote it only if every gate passes.

    Gates: holdout AUC floor; lift over the champion at least `min_lift` with a bootstrap lower bound above zero;
    scoring latency within the SLA. With no champion only the absolute gates apply; a tie keeps the champion. The
    decision is recorded right after the history record it was judged against, and only then does the alias move: of
    two decisions on one champion, the second ends `stale-champion`. A rejection is a normal, completed outcome: the
    decision is returned, recorded, emitted and kept as an artifact. Promoting the champion itself changes nothing.
    The run ends in a Completed state named by the outcome (`Promoted`, `Rejected`, ...) with the reasons. Where
    the promotion policy has `require_approval`, a challenger that passed every gate waits (Paused) for a person's
    answer, with the gate table on the form; no answer within `approval_timeout_hours` rejects it.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        challenger_version: Model version to judge; empty takes the version with the `challenger` alias.
    """
    cfg = load_dataset(dataset)
    # resolve
    version: str = resolve_challenger(cfg, str(challenger_version))
    # judge
    decision: PromotionDecision = judge(cfg, version)
    # approve
    decision = await_approval(cfg, decision)
    # decide
    decision = apply_decision(cfg, decision)
    # announce
    announce_decision(cfg, decision)
    return decision_state(decision)
