"""The champion history in the object store, and the `champion` alias kept as its projection.

Records live at `registry/<model>/history/<sequence:08d>.json`, each written once with `If-None-Match`. A decision
records the sequence it was judged against and may move the champion only by writing the record right after it:
whoever writes that sequence first wins, and only the winner moves the alias, after its record is written. No lock,
no lease: a crashed winner leaves a record whose alias move the next decision completes. A retried write that finds
a record with its own `writer` knows the first attempt went through (its response was lost).

Most readers need only the newest records (who is champion, since which record, what was decided lately):
`read_recent` reads them from the head record `registry/<model>/history-head.json` (kept by compare-and-set as each
record is written) plus a listing of anything written after it, so its cost does not grow with the history's length;
`read_log` reads every record, for rollback's walk back and for people.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from prefect.runtime import flow_run

from tasks.model import champions
from tasks.model.champions import Action, HistoryRecord
from tasks.model.registry import CHAMPION, champion_version, set_alias
from tasks.platform import events, versioned
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import ConfigurationError

MAX_APPEND_ATTEMPTS = 50
RECENT_RECORDS = 32  # the head's records besides the champion's own: reconcile looks back a day, append's retry less
DECISION_EVENTS: dict[Action, str] = {
    "promote": events.MODEL_PROMOTED,
    "reject": events.MODEL_REJECTED,
    "rollback": events.MODEL_ROLLED_BACK,
}


def history_prefix(model: str) -> str:
    return f"registry/{model}/history/"


def head_key(model: str) -> str:
    return f"registry/{model}/history-head.json"


def read_log(cfg: DatasetConfig, after: int = 0) -> list[HistoryRecord]:
    """Every record of the model's history (after sequence `after`), oldest first."""
    prefix = history_prefix(cfg.model_name)
    keys = cfg.store.list_keys(prefix, start_after=f"{prefix}{after:08d}.json" if after else "")
    return [HistoryRecord.model_validate(cfg.store.get_json(key)) for key in keys if key.endswith(".json")]


def read_recent(cfg: DatasetConfig) -> list[HistoryRecord]:
    """The newest RECENT_RECORDS records and the current champion's own, oldest first: all that the champion, its
    tenure, the newest sequence and the last day's decisions follow from. One read of the head and a listing of what
    was written after it (a crash between a record and the head leaves it there); a history from before the head is
    read whole, once, and the head written."""
    head, _ = versioned.read(cfg.store, head_key(cfg.model_name))
    if head is None:
        log = read_log(cfg)
        _remember(cfg, log)
        return log
    kept = [HistoryRecord.model_validate(record) for record in head["records"]]
    later = read_log(cfg, after=_contiguous(kept))  # two writers' head updates can land out of order: fill gaps
    return sorted({record.sequence: record for record in kept + later}.values(), key=lambda r: r.sequence)


def _contiguous(kept: list[HistoryRecord]) -> int:
    """The newest sequence up to which the head's newest records have no gap."""
    window = [record.sequence for record in kept[-RECENT_RECORDS:]]
    after = window[0] if window else 0
    for sequence in window[1:]:
        if sequence != after + 1:
            break
        after = sequence
    return after


def _remember(cfg: DatasetConfig, records: list[HistoryRecord]) -> None:
    """Merge written records into the head, keeping the newest RECENT_RECORDS and the champion's own."""

    def merged(head: Any | None) -> Any | None:
        known = {record["sequence"]: record for record in (head["records"] if head else [])}
        known.update({record.sequence: record.model_dump(mode="json") for record in records})
        ordered = [HistoryRecord.model_validate(known[sequence]) for sequence in sorted(known)]
        newest, moved = ordered[-RECENT_RECORDS:], champions.moves(ordered)
        kept = [moved[-1], *newest] if moved and moved[-1] not in newest else newest
        wanted = {"records": [record.model_dump(mode="json") for record in kept]}
        return None if head == wanted else wanted

    versioned.update(cfg.store, head_key(cfg.model_name), merged)


def record(cfg: DatasetConfig, action: Action, from_version: str | None, to_version: str, why: str) -> HistoryRecord:
    """A record not yet written (sequence 0); `writer` is the same on every retry of this flow run's decision."""
    run = flow_run.get_id()
    return HistoryRecord(
        sequence=0,
        dataset=cfg.name,
        model=cfg.model_name,
        action=action,
        from_version=from_version,
        to_version=to_version,
        moved=action != "reject",
        why=why,
        at=datetime.now(UTC),
        flow_run_id=run or "no-flow-run",
        writer=f"{run or uuid.uuid4().hex}:{action}:v{to_version}",
    )


def write_at(cfg: DatasetConfig, entry: HistoryRecord, sequence: int) -> HistoryRecord | None:
    """Write `entry` at `sequence` if nobody has: the written record, or None when another writer holds it."""
    stamped = entry.model_copy(update={"sequence": sequence})
    key = f"{history_prefix(cfg.model_name)}{sequence:08d}.json"
    written: HistoryRecord | None = stamped
    if not cfg.store.put_if_absent(key, json_bytes(stamped.model_dump(mode="json"))):
        existing = HistoryRecord.model_validate(cfg.store.get_json(key))
        written = existing if existing.writer == entry.writer else None
    if written is not None:
        _remember(cfg, [written])
    return written


def append(cfg: DatasetConfig, entry: HistoryRecord) -> HistoryRecord:
    """Write a record that moves nothing (a rejection) at the next free sequence, once: a retry whose earlier attempt
    wrote it (same `writer`) finds that record instead of writing a second one further on."""
    for _ in range(MAX_APPEND_ATTEMPTS):
        log = read_recent(cfg)
        mine = [record for record in log if record.writer == entry.writer]
        if mine:
            return mine[0]
        written = write_at(cfg, entry, champions.head(log) + 1)
        if written is not None:
            return written
    raise RuntimeError(f"could not append to {history_prefix(cfg.model_name)} after {MAX_APPEND_ATTEMPTS} attempts")


def move_alias(cfg: DatasetConfig, written: HistoryRecord) -> None:
    """The winner's second step: point the alias where its record says."""
    set_alias(cfg, CHAMPION, written.to_version)


def project_alias(cfg: DatasetConfig, log: list[HistoryRecord]) -> None:
    """Make the alias agree with the log before deciding anything.

    An alias still at the newest move's `from_version` is a move of driftloop's own whose second step did not happen
    (a crash between record and alias): it is completed. An alias anywhere else was moved outside driftloop: that is
    reported, not followed, since no gate judged it and the history would no longer say who serves.
    """
    wanted, alias = champions.champion(log), champion_version(cfg)
    if alias == wanted:
        return
    moved = champions.moves(log)
    if moved and alias == moved[-1].from_version:
        move_alias(cfg, moved[-1])
        return
    raise ConfigurationError(
        f"the champion alias of {cfg.model_name} points at v{alias}, but its history says "
        f"{'v' + wanted if wanted else 'no champion'} (record #{champions.head(log)}): it was moved outside driftloop. "
        f"Move it back, or run promote or rollback, which record why."
    )


def announcement(
    cfg: DatasetConfig, entry: HistoryRecord, payload: dict[str, Any] | None = None
) -> events.Announcement:
    """The event that announces a written record, with one id per record: announcing it again (a retry, or
    reconcile making good a lost event) sends the same event. The payload is the record, or what the decision adds
    to it (a promotion's gates and numbers)."""
    event = DECISION_EVENTS[entry.action]
    return events.Announcement(
        event=event,
        resource=events.model_resource(cfg.model_name, cfg.name),
        payload=payload or entry.model_dump(mode="json"),
        event_id=events.deterministic_id(event, cfg.model_name, str(entry.sequence)),
        decided_at=entry.at,
    )
