"""What every fault case asserts once the stack has recovered and `reconcile` has run: nothing lost, nothing doubled.

`tally` reads the persisted state of one dataset (ledger, lake and its index head, predictions, drift summaries,
champion history, MLflow versions) and the events the Prefect server kept since the case began, and counts what is
missing and what is there twice. A case records the tally in `bench/results/chaos.json` (tests/chaos_results.py) and
then requires it clean.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.events.schemas.events import ReceivedEvent

from deployments.watch.events import events_since
from deployments.watch.runs import wait_until
from tasks.data import lake
from tasks.data.lake_index import HEAD_CAPACITY, list_batches, recent_batches
from tasks.model import champions, history
from tasks.model.registry import client_for
from tasks.platform import events
from tasks.platform.config import DatasetConfig
from tests.durable_fixture import run_and_wait

ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED]
QUIET_SECONDS = 15  # an automation acts within seconds of the event that triggers it


@dataclass
class Tally:
    """Objects landed by the case, and every loss and duplicate found after recovery, each named."""

    landed: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.lost and not self.duplicated


def tally(cfg: DatasetConfig, landed_keys: list[str], since: datetime) -> Tally:
    """Check the invariants for the objects a case landed, and for everything the stack did since it began."""
    found = Tally(landed=len(landed_keys))
    found.lost += _unledgered(cfg, landed_keys)
    found.lost += _unchecked(cfg)
    found.lost += _unindexed(cfg)
    found.duplicated += _doubles("batch of source", (meta.source_key for meta in list_batches(cfg.store, cfg.name)))
    log = history.read_log(cfg)
    found.duplicated += _doubles("history record of decision", (f"{r.action}:{r.writer}" for r in log))
    found.duplicated += _duplicate_versions(cfg)
    found.duplicated += _duplicate_events(since)
    return found


def _unindexed(cfg: DatasetConfig) -> list[str]:
    """Batches whose metadata is written but whose index head entry is not (the head holds the newest ones)."""
    indexed = {meta.batch_id for meta in recent_batches(cfg.store, cfg.name)}
    newest = list_batches(cfg.store, cfg.name)[-HEAD_CAPACITY:]
    return [f"index entry of batch {meta.batch_id}" for meta in newest if meta.batch_id not in indexed]


def recover(cfg: DatasetConfig, rounds: int = 3, timeout: float = 600) -> float:
    """Run `reconcile` (no grace) until the dataset's window is all scored and checked, waiting after each round for
    the runs it and the automations started; the seconds it took."""
    began = time.monotonic()
    for _ in range(rounds):
        run_and_wait("reconcile", dataset=cfg.name, grace_minutes=0)
        settle(cfg.name, timeout)
        if not _unchecked(cfg):
            break
    return time.monotonic() - began


def settle(dataset: str, timeout: float = 600) -> None:
    """Wait until no run for the dataset is on its way, and none has been for QUIET_SECONDS."""
    quiet_since = [time.monotonic()]

    def quiet() -> bool:
        if _active_runs(dataset):
            quiet_since[0] = time.monotonic()
        return time.monotonic() - quiet_since[0] >= QUIET_SECONDS

    wait_until(quiet, timeout, f"the runs for {dataset} to finish", poll=2)


def _active_runs(dataset: str) -> int:
    """Runs for the dataset (or every dataset) that are on their way; a scheduled sweep waiting for its time is not."""
    active = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE)))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=active, limit=200)
    soon = datetime.now(UTC) + timedelta(seconds=5)
    return sum(
        1
        for run in runs
        if run.parameters.get("dataset") in {dataset, "*"}
        and not (run.auto_scheduled and run.expected_start_time is not None and run.expected_start_time > soon)
    )


def _unledgered(cfg: DatasetConfig, landed_keys: Iterable[str]) -> list[str]:
    """Landed objects with no final ledger outcome."""
    missing = []
    for key in landed_keys:
        ledger = cfg.store.get_json_if_exists(lake.ledger_key(cfg.name, key))
        if ledger is None or ledger.get("outcome") not in {"ingested", "quarantined", "duplicate"}:
            missing.append(f"no ledger outcome for {key}: {ledger}")
    return missing


def _unchecked(cfg: DatasetConfig) -> list[str]:
    """Batches of the serving champion's window that were not scored or not checked for drift by it."""
    log = history.read_log(cfg)
    version, moved = champions.champion(log), champions.moves(log)
    if version is None:
        return []
    began = moved[-1].at if len(moved) > 1 else None
    missing = []
    for meta in list_batches(cfg.store, cfg.name):
        if began is not None and meta.ingested_at < began:
            continue
        if not cfg.store.exists(lake.predictions_key(cfg.name, version, meta.batch_id)):
            missing.append(f"batch {meta.batch_id} not scored by v{version}")
        elif not cfg.store.exists(lake.drift_check_prefix(cfg.name, meta.batch_id, version) + "summary.json"):
            missing.append(f"batch {meta.batch_id} not checked for drift against v{version}")
    return missing


def _duplicate_versions(cfg: DatasetConfig) -> list[str]:
    """Two model versions from one registration, or two trainings for one drift episode (one onset batch)."""
    versions = client_for(cfg).search_model_versions(f"name='{cfg.model_name}'")
    runs = (str(v.run_id) for v in versions)  # a retried registration finds its run's version
    onsets = (v.tags.get("driftloop.onset_batch_id", "") for v in versions)
    return [
        *_doubles("model version of run", runs),
        *_doubles("training of the episode starting at", (onset for onset in onsets if onset)),
    ]


def _duplicate_events(since: datetime) -> list[str]:
    """An announcement made twice under different ids: one ingest, score, check or decision, two events."""
    found = events_since(
        [events.BATCH_INGESTED, events.BATCH_SCORED, events.DRIFT_CHECKED, events.MODEL_PROMOTED], since
    )

    def subject(event: ReceivedEvent) -> str:
        payload = event.payload
        return "/".join(
            str(part)
            for part in (
                event.event,
                event.resource.id,
                payload.get("batch_id", ""),
                payload.get("model_version", payload.get("champion_version", "")),
                payload.get("challenger_version", ""),
                payload.get("tenure", ""),
            )
        )

    return _doubles("event", (subject(event) for event in found))


def _doubles(what: str, items: Iterable[str]) -> list[str]:
    return [f"{what} {item} x{count}" for item, count in Counter(items).items() if count > 1]
