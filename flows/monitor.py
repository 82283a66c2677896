"""monitor: compare a scored batch with the champion's reference; persist the verdict, and announce drift."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.monitoring.steps.bake import check_bake
from tasks.monitoring.steps.check import (
    MonitorSummary,
    check_batch,
    dataset_named,
    no_champion_yet,
    persist_summary,
    record_episode,
    render_report,
    resolve_batch,
    resolve_champion,
)
from tasks.monitoring.steps.publish import announce, publish_artifact, track_summary, verdict_state


@flow(name="monitor")
def monitor(dataset: str = "", batch_id: str = "") -> State[MonitorSummary] | State[None]:
    """Check one validated batch for drift against the reference stored with the serving champion.

    The fast engine decides on the full batch (feature drift share, prediction drift, and an ROC AUC drop on labelled
    rows); Evidently renders the human report from seeded samples. The summary and report are written once under
    reports/<dataset>/drift/<batch_id>-v<version>/, logged to MLflow and shown as the `drift-<dataset>` artifact.
    `driftloop.drift.checked` is always emitted; on drift, `driftloop.drift.detected` carries the episode: its onset
    and batches in ingest order, and whether it is confirmed (`confirm_batches` drifted batches in a row, or a strong
    AUC drop). Only a confirmed episode matches the retrain trigger; a quiet batch closes an unconfirmed one as
    transient. Events go out right after the summary is persisted, before MLflow and the artifact, so an MLflow
    outage delays the views but never the retrain. While a new champion bakes, the champion it replaced scored the
    batch too: when it does clearly better on the labelled rows, or the new one broke the scoring SLA, the summary
    says `degraded` and `driftloop.model.degraded` starts the rollback automation.

    Args:
        dataset: Name of the dataset block to monitor; empty means the only one (with several, a name is required).
        batch_id: Lake batch to check (as the `driftloop.batch.scored` trigger passes it); empty means the newest
            validated batch.

    Returns:
        The persisted monitoring summary (verdict, per-column table, champion version, onset, report URI) in a
        Completed state named by the verdict (`Quiet`, `Transient`, `Drift unconfirmed`, `Drift confirmed`); with no
        champion yet, a Completed state saying there is nothing to compare with.
    """
    dataset = dataset_named(dataset)
    # champion
    version = resolve_champion(dataset)
    if version is None:
        return no_champion_yet(dataset)
    # batch
    checked_batch = resolve_batch(dataset, batch_id)
    # check
    verdict = check_batch(dataset, checked_batch, version)
    # report
    report = render_report(dataset, checked_batch, version, verdict)
    # bake
    bake = check_bake(dataset, checked_batch, version)
    # episode
    episode = record_episode(dataset, checked_batch, verdict)
    # persist
    summary: MonitorSummary = persist_summary(dataset, version, verdict, report, episode, checked_batch, bake)
    # announce
    announce(summary)
    # track
    run_url = track_summary(summary)
    # publish
    publish_artifact(summary, run_url)
    return verdict_state(summary)
