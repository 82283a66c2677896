"""monitor: compare a scored batch with the champion's reference; persist the verdict, and announce drift."""

from __future__ import annotations

from prefect import flow

from tasks.monitoring.steps.check import (
    MonitorSummary,
    check_batch,
    persist_summary,
    record_onset,
    render_report,
    resolve_batch,
    resolve_champion,
)
from tasks.monitoring.steps.publish import announce, publish_artifact, track_summary


@flow(name="monitor")
def monitor(dataset: str = "credit", batch_id: str = "") -> MonitorSummary:
    """Check one validated batch for drift against the reference stored with the serving champion.

    The fast engine decides on the full batch (feature drift share, prediction drift, and an ROC AUC drop on labelled
    rows); Evidently renders the human report from seeded samples. The summary and report are written once under
    reports/<dataset>/drift/<batch_id>-v<version>/, logged to MLflow and shown as the `drift-<dataset>` artifact.
    `driftloop.drift.checked` is always emitted; on drift, `driftloop.drift.detected` carries the episode onset.

    Args:
        dataset: Name of the dataset block to monitor.
        batch_id: Lake batch to check (as the `driftloop.batch.scored` trigger passes it); empty means the newest
            validated batch.

    Returns:
        The persisted monitoring summary (verdict, per-column table, champion version, onset, report URI).

    Raises:
        NoChampion: the model has no champion, so there is no reference to compare with.
    """
    # champion
    version = resolve_champion(dataset)
    # batch
    checked_batch = resolve_batch(dataset, batch_id)
    # check
    verdict = check_batch(dataset, checked_batch, version)
    # report
    report = render_report(dataset, checked_batch, version)
    # episode
    onset = record_onset(dataset, version, checked_batch, verdict.drifted)
    # persist
    summary: MonitorSummary = persist_summary(dataset, version, verdict, report, onset, checked_batch)
    # track
    run_url = track_summary(summary)
    # publish
    publish_artifact(summary, run_url)
    # announce
    announce(summary)
    return summary
