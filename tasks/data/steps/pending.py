"""Finding what to ingest: the one landed key a trigger names, or every landed object the ledger has not settled
and whose failure backoff, if any, is over (the scheduled sweep)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tasks.data import failures
from tasks.data.lake import failure_key, landing_prefix, ledger_key
from tasks.data.steps.ingest import load_intake
from tasks.platform.config import EVERY_DATASET, dataset_names
from tasks.platform.errors import ConfigurationError
from tasks.platform.retry import io_task
from tasks.platform.store import Store

SHOWN_KEYS = 10


@dataclass(frozen=True)
class Pending:
    """The objects to ingest, as `(dataset, key)`, and the datasets that could not be looked at, with why."""

    objects: list[tuple[str, str]]
    skipped: dict[str, str] = field(default_factory=dict)


@io_task
def pending_objects(dataset: str, key: str = "") -> Pending:
    """`(dataset, key)` for the one key given, else for every object under landing/<dataset>/ (of every dataset,
    for `*`) that has no ledger record yet and whose failure backoff, if any, is over. For `*`, a dataset that
    cannot be looked at (its contract no longer imports, say) is skipped and named, and the others go on."""
    if key:
        if dataset == EVERY_DATASET and key.count("/") >= 2:
            dataset = key.split("/", 2)[1]  # the key names its dataset: landing/<dataset>/...
        if not key.startswith(landing_prefix(dataset)):
            raise ConfigurationError(f"{key!r} is not under {landing_prefix(dataset)!r}")
        _require_landed(dataset, key)
        return Pending([(dataset, key)])
    if dataset != EVERY_DATASET:
        return Pending([(dataset, landed) for landed in _unledgered(dataset)])
    pending = Pending([])
    for name in dataset_names(dataset):
        try:
            pending.objects.extend((name, landed) for landed in _unledgered(name))
        except Exception as exc:  # one broken dataset must not keep the others waiting
            pending.skipped[name] = failures.describe(exc)
    return pending


def _require_landed(dataset: str, key: str) -> None:
    """A key that names no object is a ConfigurationError that lists what is under the landing prefix."""
    store = load_intake(dataset).store
    if store.exists(key) or store.exists(ledger_key(dataset, key)):  # a settled key may have left landing/ since
        return
    there = store.list_keys(landing_prefix(dataset))
    shown = ", ".join(there[:SHOWN_KEYS]) + (f" and {len(there) - SHOWN_KEYS} more" if len(there) > SHOWN_KEYS else "")
    raise ConfigurationError(f"no object at {key!r}; under {landing_prefix(dataset)!r}: {shown or 'nothing yet'}")


def _unledgered(dataset: str) -> list[str]:
    store, now = load_intake(dataset).store, datetime.now(UTC)
    handled = set(store.list_keys(f"lake/{dataset}/ledger/"))
    waiting = set(store.list_keys(f"lake/{dataset}/failures/"))
    landed = [k for k in store.list_keys(landing_prefix(dataset)) if ledger_key(dataset, k) not in handled]
    return [k for k in landed if failure_key(dataset, k) not in waiting or _due(store, dataset, k, now)]


def _due(store: Store, dataset: str, key: str, now: datetime) -> bool:
    record = store.get_json_if_exists(failure_key(dataset, key))
    return failures.due(None if record is None else failures.IngestFailure.model_validate(record), now)
