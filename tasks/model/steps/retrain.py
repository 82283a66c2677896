"""Retrain steps: claim an attempt in the current drift episode, settle how it ended, or say why it did not start.

Attempts live at `registry/<model>/episodes/<tenure>/<n>.json`, claimed with `If-None-Match`: of two requests for the
same attempt, from the automation, a schedule or a person, exactly one wins. Its outcome is written beside it when it
ends (`<n>.outcome.json`); a failed run writes `failed` through the transaction's rollback hook, and a killed run
writes nothing, so its lease runs out. `registry/<model>/attempts/` holds one empty marker per attempt, named by its
start time, which the budget counts without reading them. The rules themselves are in `tasks.model.episodes`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.transactions import Transaction, get_transaction
from pydantic import BaseModel

from tasks.data.lake_io import list_batches
from tasks.model import champions, episodes, history
from tasks.model.episodes import Attempt, Ending, Outcome
from tasks.platform import events
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.retry import io_task


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


def episode_prefix(model: str, tenure: int) -> str:
    return f"registry/{model}/episodes/{tenure:08d}/"


def attempts_prefix(model: str) -> str:
    return f"registry/{model}/attempts/"


@io_task
def claim_retrain(dataset: str, trigger_event_id: str, drifted_champion: str = "") -> RetrainClaim:
    """Claim the next attempt of the current tenure's episode, unless the champion that drifted (when named) was
    replaced since, an attempt holds or closed the episode, or the budget is spent."""
    cfg = load_dataset(dataset)
    log = history.read_log(cfg)
    champion, tenure, now = champions.champion(log), champions.tenure(log), datetime.now(UTC)
    attempts = read_attempts(cfg, tenure)
    number = len(attempts) + 1
    claim = RetrainClaim(
        dataset=dataset,
        model=cfg.model_name,
        key=f"{episode_prefix(cfg.model_name, tenure)}{number:03d}.json",
        champion_version=champion,
        tenure=tenure,
        attempt=number,
        granted=True,
        reason="new drift episode" if number == 1 else f"attempt {number} of the episode",
        claimed_at=now,
        flow_run_id=flow_run.get_id(),
        trigger_event_id=trigger_event_id,
    )
    why = _why_not(cfg, claim, attempts, drifted_champion)
    if why:
        return claim.model_copy(update={"granted": False, "reason": why})
    taken_by = _take(cfg, claim)
    if taken_by is not None:
        return claim.model_copy(update={"granted": False, "reason": f"attempt {number} already taken by {taken_by}"})
    _remember_for_rollback(claim)
    return claim


def _why_not(
    cfg: DatasetConfig, claim: RetrainClaim, attempts: list[tuple[Attempt, Outcome | None]], drifted_champion: str
) -> str | None:
    if drifted_champion and drifted_champion != claim.champion_version:
        return (
            f"the champion moved from v{drifted_champion} to v{claim.champion_version} since the drift; "
            "it is monitored afresh"
        )
    why = episodes.not_now(attempts, claim.claimed_at, cfg.drift, lambda since: _labelled_rows_since(cfg, since))
    if why:
        return why
    started = [datetime.fromtimestamp(int(key.rsplit("/", 1)[-1].split("-")[0]), UTC) for key in _markers(cfg)]
    if episodes.budget_spent(started, claim.claimed_at, cfg.drift.retrain_budget, cfg.drift.budget_period_hours):
        return f"retrain budget spent: {cfg.drift.retrain_budget} attempts per {cfg.drift.budget_period_hours:g} h"
    return None


def _take(cfg: DatasetConfig, claim: RetrainClaim) -> str | None:
    """Write the attempt; None when this run holds it (also on a retry whose first write went through)."""
    run = claim.flow_run_id or "no-flow-run"
    lease = timedelta(minutes=cfg.drift.attempt_lease_minutes)
    attempt = Attempt(
        **claim.model_dump(include={"dataset", "model", "tenure", "champion_version", "trigger_event_id"}),
        number=claim.attempt,
        flow_run_id=run,
        started_at=claim.claimed_at,
        lease_until=claim.claimed_at + lease,
    )
    if not cfg.store.put_if_absent(claim.key, json_bytes(attempt.model_dump(mode="json"))):
        holder = Attempt.model_validate(cfg.store.get_json(claim.key)).flow_run_id
        if holder != run:
            return f"flow run {holder}"
    marker = f"{attempts_prefix(cfg.model_name)}{int(claim.claimed_at.timestamp()):012d}-{claim.tenure}-{claim.attempt}"
    cfg.store.put(marker, b"")  # same name on a retry of this step: counted once
    return None


def read_attempts(cfg: DatasetConfig, tenure: int) -> list[tuple[Attempt, Outcome | None]]:
    """The tenure's attempts in order, each with its outcome if it ended."""
    keys = cfg.store.list_keys(episode_prefix(cfg.model_name, tenure))
    outcomes = {key.removesuffix(".outcome.json"): key for key in keys if key.endswith(".outcome.json")}
    result = []
    for key in (k for k in keys if not k.endswith(".outcome.json")):
        outcome = outcomes.get(key.removesuffix(".json"))
        ended = Outcome.model_validate(cfg.store.get_json(outcome)) if outcome else None
        result.append((Attempt.model_validate(cfg.store.get_json(key)), ended))
    return result


def _markers(cfg: DatasetConfig) -> list[str]:
    return cfg.store.list_keys(attempts_prefix(cfg.model_name))


def _labelled_rows_since(cfg: DatasetConfig, since: datetime) -> int:
    return sum(meta.labelled_rows for meta in list_batches(cfg.store, cfg.name) if meta.ingested_at > since)


@io_task
def settle_attempt(claim: RetrainClaim, ending: Ending, reason: str) -> None:
    """Write how the attempt ended (once; a retry finds it written)."""
    _settle(claim, ending, reason)


def _settle(claim: RetrainClaim, ending: Ending, reason: str) -> None:
    cfg = load_dataset(claim.dataset)
    outcome = Outcome(ending=ending, reason=reason, at=datetime.now(UTC))
    cfg.store.put_if_absent(
        claim.key.removesuffix(".json") + ".outcome.json", json_bytes(outcome.model_dump(mode="json"))
    )


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
    events.emit(events.RETRAIN_SKIPPED, events.model_resource(claim.model, claim.dataset), payload)
    create_markdown_artifact(
        key=f"retrain-{artifact_slug(claim.dataset)}",
        markdown=f"### Retrain skipped for `{claim.model}`\n\n**Why:** {claim.reason}\n\n"
        f"Champion version: `{claim.champion_version}`; tenure #{claim.tenure}, attempt {claim.attempt}; "
        f"budget {cfg.drift.retrain_budget} attempts per {cfg.drift.budget_period_hours:g} h.",
        description=f"retrain skipped: {claim.reason}",
    )


def artifact_slug(text: str) -> str:
    """Artifact keys allow only lowercase letters, digits and dashes."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
