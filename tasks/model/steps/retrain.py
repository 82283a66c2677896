"""Exactly-once retraining per drift episode: the idempotency claim, the retrain budget and the skip record.

The claim is a conditional write (`IfNoneMatch`) of `registry/<model>/retrains/<key>.json`, where the key is the model
and the champion version it would replace (the champion's version names its stored reference). Two requests for the same
episode, whether from the automation, a schedule or a person, race for one object: exactly one wins. A request that
names the champion its drift was measured against is over once that champion was replaced (a queued duplicate of an
episode that a retrain already closed). A failed retrain releases its claim through the transaction's rollback hook,
so the episode can be retried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.transactions import Transaction, get_transaction
from pydantic import BaseModel

from tasks.model.registry import champion_version
from tasks.platform import events
from tasks.platform.codec import json_bytes
from tasks.platform.config import load_dataset
from tasks.platform.retry import io_task


class RetrainClaim(BaseModel):
    """The outcome of asking to retrain: granted (with the claim key) or skipped (with the reason)."""

    dataset: str
    model: str
    key: str
    champion_version: str | None
    granted: bool
    reason: str
    claimed_at: datetime
    flow_run_id: str | None = None
    trigger_event_id: str = ""


def claims_prefix(model: str) -> str:
    return f"registry/{model}/retrains/"


def idempotency_key(model: str, champion: str | None) -> str:
    return f"{model}-champion-v{champion or 'none'}"


def budget_spent(claimed: list[datetime], now: datetime, budget: int, period_hours: float) -> bool:
    """True when `budget` retrains were already claimed within the last `period_hours`."""
    since = now - timedelta(hours=period_hours)
    return sum(1 for at in claimed if at >= since) >= budget


@io_task
def claim_retrain(dataset: str, trigger_event_id: str, drifted_champion: str = "") -> RetrainClaim:
    """Claim the current drift episode for one retrain, unless the champion that drifted (when named) was replaced
    since, the episode is already claimed, or the budget is spent."""
    cfg = load_dataset(dataset)
    champion = champion_version(cfg)
    key = idempotency_key(cfg.model_name, champion)
    now = datetime.now(UTC)
    prefix = claims_prefix(cfg.model_name)
    claimed = [RetrainClaim.model_validate(cfg.store.get_json(k)).claimed_at for k in cfg.store.list_keys(prefix)]
    claim = RetrainClaim(
        dataset=dataset,
        model=cfg.model_name,
        key=key,
        champion_version=champion,
        granted=True,
        reason="new drift episode",
        claimed_at=now,
        flow_run_id=flow_run.get_id(),
        trigger_event_id=trigger_event_id,
    )
    if drifted_champion and drifted_champion != champion:
        reason = f"the champion moved from v{drifted_champion} to v{champion} since the drift; it is monitored afresh"
        return claim.model_copy(update={"granted": False, "reason": reason})
    if budget_spent(claimed, now, cfg.drift.retrain_budget, cfg.drift.budget_period_hours):
        reason = f"retrain budget spent: {cfg.drift.retrain_budget} per {cfg.drift.budget_period_hours:g} h"
        return claim.model_copy(update={"granted": False, "reason": reason})
    if not cfg.store.put_if_absent(f"{prefix}{key}.json", json_bytes(claim.model_dump(mode="json"))):
        existing = RetrainClaim.model_validate(cfg.store.get_json(f"{prefix}{key}.json"))
        when = f"{existing.claimed_at:%Y-%m-%d %H:%M:%S}"
        reason = f"episode already handled by flow run {existing.flow_run_id} at {when}"
        return claim.model_copy(update={"granted": False, "reason": reason})
    _remember_for_rollback(claim)
    return claim


def _remember_for_rollback(claim: RetrainClaim) -> None:
    txn = get_transaction()
    if txn is not None:
        txn.set("claim", claim)


@claim_retrain.on_rollback
def release_claim(txn: Transaction) -> None:
    """A retrain that failed gives its episode back, so a later request may try again."""
    claim: RetrainClaim | None = txn.get("claim", None)
    if claim is None:
        return
    cfg = load_dataset(claim.dataset)
    cfg.store.client.delete_object(Bucket=cfg.store.bucket, Key=f"{claims_prefix(claim.model)}{claim.key}.json")


@io_task
def record_skip(claim: RetrainClaim) -> None:
    """Say why no retrain ran: an event for automations and a keyed artifact for people."""
    cfg = load_dataset(claim.dataset)
    payload = claim.model_dump(mode="json")
    events.emit(events.RETRAIN_SKIPPED, events.model_resource(claim.model, claim.dataset), payload)
    create_markdown_artifact(
        key=f"retrain-{artifact_slug(claim.dataset)}",
        markdown=f"### Retrain skipped for `{claim.model}`\n\n**Why:** {claim.reason}\n\n"
        f"Champion version: `{claim.champion_version}`; idempotency key `{claim.key}`; "
        f"budget {cfg.drift.retrain_budget} per {cfg.drift.budget_period_hours:g} h.",
        description=f"retrain skipped: {claim.reason}",
    )


def artifact_slug(text: str) -> str:
    """Artifact keys allow only lowercase letters, digits and dashes."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
