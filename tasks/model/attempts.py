"""Retrain attempts in the object store: claimed once, settled once, and counted for the budget without reading.

Attempts live at `registry/<model>/episodes/<tenure>/<n>.json`, claimed with `If-None-Match`: of two requests for the
same attempt, from the automation, a schedule or a person, exactly one wins. Its outcome is written beside it when it
ends (`<n>.outcome.json`). `registry/<model>/attempts/` holds one empty marker per attempt, named by its start time,
which the budget counts from a listing alone. The rules themselves are in `tasks.model.episodes`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tasks.model.episodes import Attempt, Outcome
from tasks.platform.codec import json_bytes
from tasks.platform.store import Store

OUTCOME_SUFFIX = ".outcome.json"


def episode_prefix(model: str, tenure: int) -> str:
    return f"registry/{model}/episodes/{tenure:08d}/"


def attempts_prefix(model: str) -> str:
    return f"registry/{model}/attempts/"


def attempt_key(model: str, tenure: int, number: int) -> str:
    return f"{episode_prefix(model, tenure)}{number:03d}.json"


def take(store: Store, attempt: Attempt) -> str | None:
    """Write the attempt and its budget marker; None when `attempt.flow_run_id` holds it (also on a retry whose
    first write went through), else the flow run that does."""
    key = attempt_key(attempt.model, attempt.tenure, attempt.number)
    if not store.put_if_absent(key, json_bytes(attempt.model_dump(mode="json"))):
        holder = Attempt.model_validate(store.get_json(key)).flow_run_id
        if holder != attempt.flow_run_id:
            return holder
    started = int(attempt.started_at.timestamp())
    marker = f"{attempts_prefix(attempt.model)}{started:012d}-{attempt.tenure}-{attempt.number}"
    store.put(marker, b"")  # same name on a retry: counted once
    return None


def settle(store: Store, model: str, tenure: int, number: int, outcome: Outcome) -> None:
    """Write how the attempt ended, once; a retry finds it written."""
    key = attempt_key(model, tenure, number).removesuffix(".json") + OUTCOME_SUFFIX
    store.put_if_absent(key, json_bytes(outcome.model_dump(mode="json")))


def read_attempts(store: Store, model: str, tenure: int) -> list[tuple[Attempt, Outcome | None]]:
    """The tenure's attempts in order, each with its outcome if it ended."""
    keys = store.list_keys(episode_prefix(model, tenure))
    outcomes = {key.removesuffix(OUTCOME_SUFFIX): key for key in keys if key.endswith(OUTCOME_SUFFIX)}
    result = []
    for key in (k for k in keys if not k.endswith(OUTCOME_SUFFIX)):
        outcome = outcomes.get(key.removesuffix(".json"))
        ended = Outcome.model_validate(store.get_json(outcome)) if outcome else None
        result.append((Attempt.model_validate(store.get_json(key)), ended))
    return result


def attempt_starts(store: Store, model: str, since: datetime) -> list[datetime]:
    """When the model's attempts since `since` started, from the marker names alone. Markers are named by their
    start second, zero-padded, so the listing starts at `since` and its cost follows the budget period, not the
    model's age."""
    prefix = attempts_prefix(model)
    keys = store.list_keys(prefix, start_after=f"{prefix}{int(since.timestamp()) - 1:012d}~")
    return [datetime.fromtimestamp(int(key.rsplit("/", 1)[-1].split("-")[0]), UTC) for key in keys]
