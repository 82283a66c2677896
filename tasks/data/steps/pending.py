"""Finding what to ingest: the one landed key a trigger names, or every landed object the ledger has not settled
and whose failure backoff, if any, is over (the scheduled sweep).

The sweep keeps a watermark per dataset (`lake/<dataset>/sweep.json`): the landing key up to which every object is
settled. It lists landing/ from there (StartAfter) and asks the ledger about those keys only, so its cost follows the
objects still open, not every object that ever landed. A key named below the watermark after the watermark passed
it (producers whose names do not sort by arrival) is ingested by its `driftloop.batch.landed` event as always; if
that event was lost too, the full sweep finds it: once every FULL_SWEEP_EVERY the sweep lists everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.data import failures
from tasks.data.lake import failure_key, landing_prefix, ledger_key
from tasks.data.steps.ingest import load_intake
from tasks.platform import versioned
from tasks.platform.config import EVERY_DATASET, dataset_names
from tasks.platform.errors import ConfigurationError
from tasks.platform.retry import io_task
from tasks.platform.store import Store

SHOWN_KEYS = 10
FULL_SWEEP_EVERY = timedelta(hours=24)


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


def sweep_key(dataset: str) -> str:
    return f"lake/{dataset}/sweep.json"


def _unledgered(dataset: str) -> list[str]:
    return open_landed(load_intake(dataset).store, dataset, datetime.now(UTC))


def open_landed(store: Store, dataset: str, now: datetime) -> list[str]:
    """The landed keys with no ledger record whose backoff is over, and the watermark moved to what is settled."""
    mark, _ = versioned.read(store, sweep_key(dataset))
    full = mark is None or now - datetime.fromisoformat(mark["full_at"]) >= FULL_SWEEP_EVERY
    landed = store.list_keys(landing_prefix(dataset), start_after="" if full or mark is None else mark["after"])
    if full:  # one listing of the ledger costs less than a request per landed key
        handled = set(store.list_keys(f"lake/{dataset}/ledger/"))
        unsettled = [k for k in landed if ledger_key(dataset, k) not in handled]
    else:
        unsettled = [k for k in landed if not store.exists(ledger_key(dataset, k))]
    _advance(store, dataset, landed, unsettled, now if full else None)
    return [k for k in unsettled if _due(store, dataset, k, now)]


def _advance(store: Store, dataset: str, landed: list[str], unsettled: list[str], full_at: datetime | None) -> None:
    """Move the watermark to the last key before the first unsettled one (never back), and note a full sweep."""
    settled = landed[: landed.index(unsettled[0])] if unsettled else landed

    def advanced(mark: Any | None) -> Any | None:
        previous = mark["after"] if mark else ""
        after = max(previous, settled[-1]) if settled else previous
        changed = {"after": after, "full_at": full_at.isoformat() if full_at else mark["full_at"] if mark else ""}
        return None if mark == changed else changed

    versioned.update(store, sweep_key(dataset), advanced)


def _due(store: Store, dataset: str, key: str, now: datetime) -> bool:
    record = store.get_json_if_exists(failure_key(dataset, key))
    return failures.due(None if record is None else failures.IngestFailure.model_validate(record), now)
