"""Reconcile's I/O: survey what is persisted and running for a dataset, start what is missing, keep the record.

Runs start through the same deployments the automations use, each with an idempotency key, so a retried start
creates no second run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
from prefect.client.schemas.filters import FlowRunFilterExpectedStartTime as After
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.runtime import flow_run

from tasks.data import lake
from tasks.data.lake import BatchMeta
from tasks.data.lake_io import check_marks, newest_batches
from tasks.model import attempts, champions, history
from tasks.monitoring.confirmation import confirmed_onset, parse_marks
from tasks.operations.reconcile import BatchView, Finding, RunView, Survey, findings, tenure_subject
from tasks.operations.steps import announcements
from tasks.platform.artifacts import publish_table
from tasks.platform.config import DatasetConfig, dataset_names, load_dataset
from tasks.platform.retry import io_task

__all__ = ["Finding", "Survey"]  # re-exported: flows import steps only

WINDOW_BATCHES = 50  # the newest batches of the window are reconciled; older gaps were reported by earlier runs
FLOWS = ("score", "monitor", "retrain")
PAGE = 200


@io_task
def datasets_to_reconcile(dataset: str) -> list[str]:
    """`[dataset]`, or every dataset block for `*`."""
    return dataset_names(dataset)


@io_task
def survey(dataset: str) -> Survey:
    """The champion, the window's batches with what was done to them, the tenure's drift and the related runs."""
    cfg = load_dataset(dataset)
    log = history.read_recent(cfg)
    champion, tenure = champions.champion(log), champions.tenure(log)
    window = _window(cfg, log)
    checks = check_marks(cfg.store, dataset, cfg.model_name, tenure)
    marks = parse_marks(list(checks))
    return Survey(
        dataset=dataset,
        champion=champion,
        tenure=tenure,
        batches=[_view(cfg, meta, champion) for meta in window] if champion else [],
        onset_batch_id=confirmed_onset(marks, cfg.drift.confirm_batches),
        drift_marked_at=max(checks.values(), default=None),
        attempts=len(cfg.store.list_keys(attempts.episode_prefix(cfg.model_name, tenure))),
        runs=_runs(dataset, tenure, _since(log, window)),
        unannounced=announcements.unannounced(cfg, log, checks),
        surveyed_at=datetime.now(UTC),
    )


def _window(cfg: DatasetConfig, log: list[champions.HistoryRecord]) -> list[BatchMeta]:
    moved = champions.moves(log)
    began = moved[-1].at if len(moved) > 1 else None  # under the first champion, the batches before it count too
    metas = newest_batches(cfg.store, cfg.name, WINDOW_BATCHES)
    return [meta for meta in metas if began is None or meta.ingested_at >= began]


def _view(cfg: DatasetConfig, meta: BatchMeta, champion: str) -> BatchView:
    summary = lake.drift_check_prefix(cfg.name, meta.batch_id, champion) + "summary.json"
    return BatchView(
        batch_id=meta.batch_id,
        ingested_at=meta.ingested_at,
        scored=cfg.store.exists(lake.predictions_key(cfg.name, champion, meta.batch_id)),
        monitored=cfg.store.exists(summary),
    )


def _since(log: list[champions.HistoryRecord], window: list[BatchMeta]) -> datetime | None:
    times = [meta.ingested_at for meta in window[:1]] + [record.at for record in champions.moves(log)[-1:]]
    return min(times) if times else None


def _runs(dataset: str, tenure: int, since: datetime | None) -> list[RunView]:
    """Runs of the three deployments for this dataset since the window began (retrains: of this tenure)."""
    with get_client(sync_client=True) as client:
        ids = {flow: client.read_deployment_by_name(f"{flow}/driftloop").id for flow in FLOWS}
        by_id = {deployment_id: flow for flow, deployment_id in ids.items()}
        runs = _read_runs(client, list(ids.values()), since)
    views = []
    for run in runs:
        if run.parameters.get("dataset") != dataset or run.deployment_id not in by_id:
            continue
        flow = by_id[run.deployment_id]
        subject = tenure_subject(tenure) if flow == "retrain" else str(run.parameters.get("batch_id", ""))
        final = run.state is not None and run.state.is_final()
        failed = run.state is not None and run.state.type in {StateType.FAILED, StateType.CRASHED}
        views.append(RunView(flow=flow, subject=subject, final=final, failed=failed))
    return views


def _read_runs(client: SyncPrefectClient, deployment_ids: list[UUID], since: datetime | None) -> list[FlowRun]:
    run_filter = FlowRunFilter(expected_start_time=After(after_=since)) if since else None
    deployments = DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids))
    runs: list[FlowRun] = []
    while True:  # the API answers at most PAGE runs at a time
        page = client.read_flow_runs(
            deployment_filter=deployments, flow_run_filter=run_filter, limit=PAGE, offset=len(runs)
        )
        runs += page
        if len(page) < PAGE:
            return runs


def missing_runs(seen: Survey, grace_minutes: float) -> list[Finding]:
    """The findings of the pure rules (tasks.operations.reconcile) for this survey."""
    return findings(seen, timedelta(minutes=grace_minutes))


@io_task
def start_missing(seen: Survey, found: list[Finding]) -> dict[str, str]:
    """Start a run for every finding marked to start, or send its event again; the flow run id (or event id) of
    each, by `flow:subject`."""
    started = {}
    lost = {announcement.event_id: announcement for announcement in seen.unannounced}
    for finding in (f for f in found if f.start):
        if finding.flow == "announce":
            started[f"announce:{finding.subject}"] = str(announcements.send(lost[finding.parameters["event_id"]]))
            continue
        key = f"reconcile-{flow_run.get_id()}-{finding.flow}-{finding.parameters['dataset']}-{finding.subject}"
        run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync in a sync task; typed as maybe-async
            f"{finding.flow}/driftloop", parameters=finding.parameters, timeout=0, idempotency_key=key
        )
        started[f"{finding.flow}:{finding.subject}"] = str(run.id)
    return started


@io_task
def record_reconciliation(dataset: str, found: list[Finding], started: dict[str, str]) -> None:
    """The `reconcile-<dataset>` artifact: everything found missing, and the run started for it or why none was."""
    rows = [
        {
            "flow": f.flow,
            "subject": f.subject,
            "missing": f.missing,
            "started": started.get(f"{f.flow}:{f.subject}", ""),
            "note": f.note,
        }
        for f in found
    ]
    description = f"{len(found)} missing, {len(started)} made good" if found else "consistent: nothing missing"
    publish_table("reconcile", dataset, rows or [{"flow": "", "subject": "", "missing": "nothing"}], description)
