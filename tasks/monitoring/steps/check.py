"""Monitoring's I/O: resolve what to compare, check it, persist the verdict and its report, track drift episodes.

The persisted summary.json under reports/<dataset>/drift/<batch_id>-v<version>/ is the source of truth for a
verdict; MLflow, the Prefect artifact and the events (tasks.monitoring_publish) are views of it. Every write is
conditional, so a re-run of the same check never replaces what the first run decided.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
from prefect.client.schemas.objects import State
from prefect.logging import get_run_logger
from prefect.states import Completed

from tasks.data import lake, lake_io
from tasks.model import champions, history, registry
from tasks.model.bake import BakeVerdict
from tasks.monitoring.confirmation import Episode, episode_at, mark_of, parse_marks
from tasks.monitoring.drift import ColumnDrift, DriftVerdict, check_drift
from tasks.monitoring.models import EvidentlyColumn, MonitorSummary, RenderedReport
from tasks.monitoring.report import sampled_report
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig, dataset_named, load_dataset
from tasks.platform.retry import io_task, step_task

__all__ = ["Episode", "MonitorSummary", "RenderedReport", "dataset_named"]


@io_task
def resolve_champion(dataset: str) -> str | None:
    """The champion's exact version, or None: there is no reference to compare with before the first promotion."""
    return registry.champion_version(load_dataset(dataset))


def no_champion_yet(dataset: str) -> State[None]:
    """Monitoring before the first promotion is expected, not a failure: the run completes and says so."""
    return Completed(
        message=f"nothing checked: dataset {dataset!r} has no champion yet, so no reference to compare with; "
        "train and promote one first"
    )


@io_task
def resolve_batch(dataset: str, batch_id: str = "") -> str:
    """The given batch id if the lake holds it (else an error naming the newest ones), or the newest when empty."""
    return lake_io.resolve_batch(load_dataset(dataset).store, dataset, batch_id, "monitor")


@step_task
def check_batch(dataset: str, batch_id: str, version: str) -> DriftVerdict:
    """The engine's verdict on the full batch, its predictions by that version, and its labels where known."""
    cfg = load_dataset(dataset)
    _, profile = registry.load_reference(cfg, version)
    batch = lake_io.read_batch(cfg.store, dataset, batch_id)
    scored = _with_predictions(cfg, batch, version, batch_id)
    predictions = scored["prediction"].to_numpy() if "prediction" in scored.columns else None
    labels = scored[cfg.columns.target].cast(pl.Float64).to_numpy()
    return check_drift(scored, profile, cfg.drift, predictions=predictions, labels=labels)


@step_task
def render_report(dataset: str, batch_id: str, version: str, verdict: DriftVerdict) -> RenderedReport | None:
    """Evidently's report on seeded samples of the reference and the batch, stored once beside the summary; none
    when the drift policy asks for none, or for drifted batches only and this one is quiet."""
    cfg = load_dataset(dataset)
    if cfg.drift.report_batches == "none" or (cfg.drift.report_batches == "drifted" and not verdict.drifted):
        return None
    reference, _ = registry.load_reference(cfg, version)
    report = sampled_report(reference, lake_io.read_batch(cfg.store, dataset, batch_id), cfg.columns, cfg.drift)
    key = lake.drift_check_prefix(dataset, batch_id, version) + "report.html"
    cfg.store.put_if_absent(key, report.html.encode())
    return RenderedReport(uri=cfg.store.uri(key), columns=report.columns)


@io_task
def record_episode(dataset: str, batch_id: str, verdict: DriftVerdict) -> Episode:
    """Mark the batch's verdict in the champion's tenure (a rollback to the same version is a new tenure) and read
    the episode it belongs to from the tenure's marks: its onset and batches in ingest order, whether it is
    confirmed, or which unconfirmed episode a quiet batch closes as transient (tasks.monitoring.confirmation)."""
    cfg = load_dataset(dataset)
    tenure = champions.tenure(history.read_recent(cfg))
    meta = lake_io.read_meta(cfg.store, dataset, batch_id)
    mark = mark_of(verdict.drifted, _strong_drop(verdict, cfg.drift.confirm_performance_drop))
    cfg.store.put(lake.check_key(dataset, cfg.model_name, tenure, meta, mark), b"")  # same key on a re-run
    marks = parse_marks(list(lake_io.check_marks(cfg.store, dataset, cfg.model_name, tenure, meta.ingested_at)))
    view = episode_at(marks, batch_id, cfg.drift.confirm_batches)
    return Episode(tenure=tenure, **view.model_dump())


def _strong_drop(verdict: DriftVerdict, confirming_drop: float) -> bool:
    performance = verdict.performance
    bound = performance.drop_lower_bound if performance is not None and performance.drifted else None
    return bound is not None and bound >= confirming_drop


@io_task
def persist_summary(
    dataset: str,
    version: str,
    verdict: DriftVerdict,
    report: RenderedReport | None,
    episode: Episode,
    batch_id: str,
    bake: BakeVerdict | None = None,
) -> MonitorSummary:
    """Write summary.json once; when a previous run already decided this check, its summary stands."""
    cfg = load_dataset(dataset)
    key = lake.drift_check_prefix(dataset, batch_id, version) + "summary.json"
    summary = MonitorSummary(
        dataset=dataset,
        model=cfg.model_name,
        champion_version=version,
        tenure=episode.tenure,
        batch_id=batch_id,
        checked_at=datetime.now(UTC),
        drifted=verdict.drifted,
        reasons=verdict.reasons,
        drifted_columns=verdict.drifted_columns,
        drift_share=verdict.drift_share,
        columns=verdict.columns,
        prediction=verdict.prediction,
        performance=verdict.performance,
        onset_batch_id=episode.onset_batch_id,
        confirmed=episode.confirmed,
        episode_batches=episode.batches,
        transient_batches=episode.transient,
        report_uri=report.uri if report else None,
        summary_uri=cfg.store.uri(key),
        report_agreement=_agreement(verdict.columns, report.columns) if report else None,
        bake=bake,
    )
    if cfg.store.put_if_absent(key, json_bytes(summary.model_dump(mode="json"))):
        return summary
    get_run_logger().info("summary %s already written by an earlier run; keeping it", key)
    return MonitorSummary.model_validate(cfg.store.get_json(key))


def _with_predictions(cfg: DatasetConfig, batch: pl.DataFrame, version: str, batch_id: str) -> pl.DataFrame:
    """The batch with the version's predictions joined by id; unchanged (with a warning) when none were written."""
    key = lake.predictions_key(cfg.name, version, batch_id)
    if not cfg.store.exists(key):
        get_run_logger().warning("no predictions at %s: prediction drift and performance are not checked", key)
        return batch
    predictions = cfg.store.read_parquet(key).select(cfg.columns.id, "prediction")
    return batch.join(predictions, on=cfg.columns.id, how="left", maintain_order="left")


def _agreement(engine: list[ColumnDrift], report: list[EvidentlyColumn]) -> float:
    sampled = {c.column: c.drifted for c in report}
    matches = [sampled[c.column] == c.drifted for c in engine if c.column in sampled]
    return float(np.mean(matches)) if matches else 1.0
