"""Retrain steps: claim an attempt in the current drift episode, settle how it ended, or say why it did not start.

Where attempts are kept is `tasks.model.attempts`; the rules are `tasks.model.episodes`. A failed run settles its
attempt as `failed` through the transaction's rollback hook; a killed run writes nothing, so its lease runs out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.transactions import Transaction, get_transaction
from pydantic import BaseModel

from tasks.data.lake_index import recent_batches
from tasks.data.lake_io import check_marks
from tasks.model import attempts, champions, episodes, history
from tasks.model.episodes import Attempt, Ending, Outcome
from tasks.model.window import reference_shortfall
from tasks.monitoring.confirmation import confirmed_onset, parse_marks
from tasks.platform import events
from tasks.platform.artifacts import artifact_key
from tasks.platform.config import DatasetConfig, dataset_named, load_dataset
from tasks.platform.retry import io_task

__all__ = ["dataset_named"]  # re-exported: flows import steps only


BUDGET_SPENT = "retrain budget spent"


class RetrainClaim(BaseModel):
    """The outcome of asking to retrain: granted (with the attempt it holds) or skipped (with the reason)."""

    dataset: str
    model: str
    key: str
    champion_version: str | None
    tenure: int
    attempt: int
    granted: bool
    reason: str
    claimed_at: datetime
    flow_run_id: str | None = None
    trigger_event_id: str = ""
    onset_batch_id: str = ""


@io_task
def claim_retrain(
    dataset: str, trigger_event_id: str, drifted_champion: str = "", onset_batch_id: str = ""
) -> RetrainClaim:
    """Claim the next attempt of the current tenure's episode, unless the champion that drifted (when named) was
    replaced since, an attempt holds or closed the episode, or the budget is spent.

    The claim's onset is the first batch of the tenure's newest confirmed episode, as monitoring marked it (the
    event's onset may differ when checks ran out of order); `onset_batch_id` is used only when none is confirmed.
    A claim whose onset has too few batches or rows after it to re-anchor on waits, saying so, and uses no attempt.
    """
    cfg = load_dataset(dataset)
    log = history.read_recent(cfg)
    champion, tenure, now = champions.champion(log), champions.tenure(log), datetime.now(UTC)
    marks = parse_marks(list(check_marks(cfg.store, dataset, cfg.model_name, tenure)))
    marked = confirmed_onset(marks, cfg.drift.confirm_batches)
    earlier = attempts.read_attempts(cfg.store, cfg.model_name, tenure)
    number = len(earlier) + 1
    claim = RetrainClaim(
        dataset=dataset,
        model=cfg.model_name,
        key=attempts.attempt_key(cfg.model_name, tenure, number),
        champion_version=champion,
        tenure=tenure,
        attempt=number,
        granted=True,
        reason="new drift episode" if number == 1 else f"attempt {number} of the episode",
        claimed_at=now,
        flow_run_id=flow_run.get_id(),
        trigger_event_id=trigger_event_id,
        onset_batch_id=marked or onset_batch_id,
    )
    why = _why_not(cfg, claim, earlier, drifted_champion)
    if why:
        return claim.model_copy(update={"granted": False, "reason": why})
    holder = attempts.take(cfg.store, _attempt(cfg, claim))
    if holder is not None:
        why = f"attempt {number} already taken by flow run {holder}"
        return claim.model_copy(update={"granted": False, "reason": why})
    _remember_for_rollback(claim)
    return claim


def _why_not(
    cfg: DatasetConfig, claim: RetrainClaim, earlier: list[tuple[Attempt, Outcome | None]], drifted_champion: str
) -> str | None:
    if drifted_champion and drifted_champion != claim.champion_version:
        return (
            f"the champion moved from v{drifted_champion} to v{claim.champion_version} since the drift; "
            "it is monitored afresh"
        )
    why = episodes.not_now(earlier, claim.claimed_at, cfg.drift, lambda since: _labelled_rows_since(cfg, since))
    if why:
        return why
    if claim.onset_batch_id:
        policy = cfg.drift
        metas = recent_batches(cfg.store, cfg.name, claim.onset_batch_id)
        why = reference_shortfall(metas, claim.onset_batch_id, policy.min_reference_batches, policy.min_reference_rows)
        if why:
            return why
    period = timedelta(hours=cfg.drift.budget_period_hours)
    started = attempts.attempt_starts(cfg.store, cfg.model_name, claim.claimed_at - period)
    if episodes.budget_spent(started, claim.claimed_at, cfg.drift.retrain_budget, cfg.drift.budget_period_hours):
        return f"{BUDGET_SPENT}: {cfg.drift.retrain_budget} attempts per {cfg.drift.budget_period_hours:g} h"
    return None


def _labelled_rows_since(cfg: DatasetConfig, since: datetime) -> int:
    return sum(meta.labelled_rows for meta in recent_batches(cfg.store, cfg.name) if meta.ingested_at > since)


@io_task
def settle_attempt(claim: RetrainClaim, ending: Ending, reason: str) -> None:
    """Write how the attempt ended (once; a retry finds it written)."""
    _settle(claim, ending, reason)


def _settle(claim: RetrainClaim, ending: Ending, reason: str) -> None:
    outcome = Outcome(ending=ending, reason=reason, at=datetime.now(UTC))
    attempts.settle(load_dataset(claim.dataset).store, claim.model, claim.tenure, claim.attempt, outcome)


def _attempt(cfg: DatasetConfig, claim: RetrainClaim) -> Attempt:
    return Attempt(
        **claim.model_dump(include={"dataset", "model", "tenure", "champion_version", "trigger_event_id"}),
        number=claim.attempt,
        flow_run_id=claim.flow_run_id or "no-flow-run",
        started_at=claim.claimed_at,
        lease_until=claim.claimed_at + timedelta(minutes=cfg.drift.attempt_lease_minutes) + _approval_wait(cfg),
    )


def _approval_wait(cfg: DatasetConfig) -> timedelta:
    """An attempt whose promotion waits for a person holds its episode that much longer."""
    return timedelta(hours=cfg.promotion.approval_timeout_hours if cfg.promotion.require_approval else 0)


def _remember_for_rollback(claim: RetrainClaim) -> None:
    txn = get_transaction()
    if txn is not None:
        txn.set("claim", claim)


@claim_retrain.on_rollback
def fail_attempt(txn: Transaction) -> None:
    """A retrain that raised ends its attempt as failed, so the episode reopens after the backoff."""
    claim: RetrainClaim | None = txn.get("claim", None)
    if claim is not None:
        _settle(claim, "failed", "the retrain run failed; see its flow run")


@io_task
def record_skip(claim: RetrainClaim) -> None:
    """Say why no retrain ran: an event for automations and a keyed artifact for people."""
    cfg = load_dataset(claim.dataset)
    payload = claim.model_dump(mode="json")
    event_id = events.deterministic_id(events.RETRAIN_SKIPPED, claim.flow_run_id or claim.key, claim.reason)
    # A label, not only the reason's text: an automation can match it (the budget-spent notification does).
    spent = {"driftloop.budget-spent": str(claim.reason.startswith(BUDGET_SPENT)).lower()}
    events.emit(events.RETRAIN_SKIPPED, events.model_resource(claim.model, claim.dataset) | spent, payload, event_id)
    create_markdown_artifact(
        key=artifact_key("retrain", claim.dataset),
        markdown=f"### Retrain skipped for `{claim.model}`\n\n**Why:** {claim.reason}\n\n"
        f"Champion version: `{claim.champion_version}`; tenure #{claim.tenure}, attempt {claim.attempt}; "
        f"budget {cfg.drift.retrain_budget} attempts per {cfg.drift.budget_period_hours:g} h.",
        description=f"retrain skipped: {claim.reason}",
    )
