"""Views of a persisted monitoring summary: an MLflow monitoring run, a keyed Prefect artifact, and the events.

Events are notifications only (delivery is best-effort); the summary in the object store is the record.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from mlflow.exceptions import MlflowException
from prefect.client.schemas.objects import State
from prefect.states import Completed

from tasks.monitoring.announcements import drift_announcements
from tasks.monitoring.steps.check import MonitorSummary
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import json_bytes
from tasks.platform.config import load_dataset
from tasks.platform.retry import io_task

MONITOR_KEY_TAG = "driftloop.monitor_key"  # one monitoring run per check: the check's summary URI
# The MLflow UI's route to one artifact of a run: the report opens in a browser, where an s3:// URI cannot.
REPORT_IN_RUN = "artifactPath/drift/report.html"


@io_task
def track_summary(summary: MonitorSummary) -> str:
    """Log the summary and the HTML report as the check's monitoring run, tagged with the champion version and batch.

    One run per check, found by its key tag (the summary's URI): a retry, or a re-run of the same check, logs the
    same values into the run an earlier attempt created, whatever state that attempt left it in, and ends it.
    """
    cfg = load_dataset(summary.dataset)
    client = MlflowClient(tracking_uri=cfg.mlflow.tracking_uri)
    experiment_id = _experiment_id(client, cfg.experiment)
    run_id = _monitoring_run(client, experiment_id, summary)
    client.log_batch(run_id, metrics=_metrics(summary), tags=_tags(summary))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "summary.json").write_bytes(json_bytes(summary.model_dump(mode="json")))
        if summary.report_uri:
            (folder / "report.html").write_bytes(cfg.store.get(_key_of(summary.report_uri)))
        client.log_artifacts(run_id, scratch, "drift")
    client.set_terminated(run_id)
    return f"{cfg.mlflow.tracking_uri}/#/experiments/{experiment_id}/runs/{run_id}"


@io_task
def publish_artifact(summary: MonitorSummary, run_url: str) -> None:
    """The per-column table under `drift-<dataset>`, with the verdict and links to the report and the MLflow run."""
    verdict = _verdict(summary)
    report = (
        f"[Drift report]({run_url}/{REPORT_IN_RUN}) · "
        if summary.report_uri
        else "no report (quiet batch; the drift policy reports drifted batches only) · "
    )
    description = (
        f"**{verdict}** — {summary.model} v{summary.champion_version}, batch `{summary.batch_id}`; "
        f"{'; '.join(summary.reasons) or 'no reason to alarm'}. {report}"
        f"[MLflow run]({run_url}) · stored at {', '.join(filter(None, (summary.report_uri, summary.summary_uri)))}"
    )
    rows = [column.model_dump() for column in summary.columns]
    if summary.prediction is not None:
        rows.append(summary.prediction.model_dump())
    publish_table("drift", summary.dataset, rows, description)


@io_task
def announce(summary: MonitorSummary) -> str | None:
    """Send the check's events (tasks.monitoring.announcements); the id of `driftloop.drift.detected`, if drifted."""
    sent = [events.announce(announcement) for announcement in drift_announcements(summary)]
    return sent[1] if summary.drifted else None


def verdict_state(summary: MonitorSummary) -> State[MonitorSummary]:
    """The run's final state named by the verdict (`Drift confirmed`, `Drift unconfirmed`, `Transient`, `Quiet`),
    with the reasons as its message, so the runs list shows which checks mattered."""
    if summary.drifted:
        name = "Drift confirmed" if summary.confirmed else "Drift unconfirmed"
    else:
        name = "Transient" if summary.transient_batches else "Quiet"
    bake = summary.bake
    if bake is not None and bake.outcome == "degraded":  # the rollback it starts matters more than the drift verdict
        name = "Degraded"
    message = f"{_verdict(summary)}: batch {summary.batch_id} vs v{summary.champion_version}"
    reasons = summary.reasons + (bake.reasons if bake is not None else [])
    return Completed(name=name, message=message + "".join(f"; {reason}" for reason in reasons), data=summary)


def _verdict(summary: MonitorSummary) -> str:
    bake = summary.bake
    drift = _drift_verdict(summary)
    return drift if bake is None else f"{drift}; bake against v{bake.previous_version}: {bake.outcome}"


def _drift_verdict(summary: MonitorSummary) -> str:
    if summary.drifted:
        return "DRIFT, confirmed" if summary.confirmed else "DRIFT, not confirmed yet (no retrain)"
    if summary.transient_batches:
        return f"no drift; closes the transient drift of {', '.join(summary.transient_batches)}"
    return "no drift"


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except MlflowException:  # created meanwhile by a training run
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def _monitoring_run(client: MlflowClient, experiment_id: str, summary: MonitorSummary) -> str:
    """The id of the check's monitoring run, created only if no attempt created it before."""
    found = client.search_runs([experiment_id], filter_string=f"tags.`{MONITOR_KEY_TAG}` = '{summary.summary_uri}'")
    if found:
        return str(found[0].info.run_id)
    run = client.create_run(
        experiment_id,
        run_name=f"monitor-{summary.batch_id}-v{summary.champion_version}",
        tags={"driftloop.kind": "monitoring", MONITOR_KEY_TAG: summary.summary_uri},
    )
    return str(run.info.run_id)


def _metrics(summary: MonitorSummary) -> list[Metric]:
    values: dict[str, Any] = {
        "drift_share": summary.drift_share,
        "drifted_columns": len(summary.drifted_columns),
        "drifted": int(summary.drifted),
    }
    if summary.report_agreement is not None:
        values["report_agreement"] = summary.report_agreement
    if summary.performance is not None and summary.performance.current_auc is not None:
        values["current_auc"] = summary.performance.current_auc
    bake = summary.bake
    if bake is not None and bake.champion_auc is not None and bake.previous_auc is not None:
        values["bake_champion_auc"], values["bake_previous_auc"] = bake.champion_auc, bake.previous_auc
    stamp = int(summary.checked_at.timestamp() * 1000)
    return [Metric(key, float(value), stamp, 0) for key, value in values.items()]


def _tags(summary: MonitorSummary) -> list[RunTag]:
    tags = {
        "driftloop.dataset": summary.dataset,
        "driftloop.champion_version": summary.champion_version,
        "driftloop.batch_id": summary.batch_id,
        "driftloop.onset_batch_id": summary.onset_batch_id or "",
        "driftloop.drifted": str(summary.drifted).lower(),
        "driftloop.report_uri": summary.report_uri or "",
    }
    return [RunTag(key, value) for key, value in tags.items()]


def _key_of(uri: str) -> str:
    return uri.split("/", 3)[3]  # s3://bucket/<key>
