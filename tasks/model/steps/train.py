"""Train-flow tasks: plan the window from the lake, fit the challenger, log and register it with its lineage."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path
from typing import Any

from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed

from tasks.data.lake_index import recent_batches
from tasks.data.lake_io import read_batches
from tasks.model.features import encode
from tasks.model.metrics import roc_auc_delong
from tasks.model.records import ChallengerRecord, version_description
from tasks.model.registration import REGISTRATION_TAG, log_challenger, new_registration_id
from tasks.model.registry import HOLDOUT, MAPPING, PROFILE, REFERENCE
from tasks.model.training import MAX_ROUNDS, PARAMS, fit_booster, predict_scores
from tasks.model.window import WindowPlan, plan_window
from tasks.model.window_rows import Window, assemble, window_mapping
from tasks.monitoring.drift import fit_profile
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import parquet_bytes
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.retry import io_task, step_task

__all__ = ["load_dataset"]  # re-exported: flows import steps only

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ROWS = 5


@io_task
def plan_training(cfg: DatasetConfig, onset_batch_id: str) -> WindowPlan:
    """Apply the window rule (see tasks.model.window) to the lake's validated batches."""
    metas = recent_batches(cfg.store, cfg.name, onset_batch_id, count=cfg.spec.train_batches)
    return plan_window(metas, cfg.spec, cfg.name, onset_batch_id)


@step_task
def fit_challenger(cfg: DatasetConfig, plan: WindowPlan, trigger_event_id: str) -> ChallengerRecord:
    """Read the window a batch at a time, fit the model, measure it on the holdout and profile its reference sample."""
    texts = (*cfg.columns.categorical, cfg.columns.target)
    mapping = window_mapping(read_batches(cfg.store, cfg.name, plan.train_batches, texts), plan, cfg.columns)
    window = assemble(
        read_batches(cfg.store, cfg.name, plan.batches), plan, cfg.columns, mapping, cfg.spec.reference_rows
    )
    booster = fit_booster(window.training, cfg.columns, mapping)
    holdout_scores = predict_scores(booster, encode(window.holdout, cfg.columns, mapping))
    estimate = roc_auc_delong(window.holdout.get_column(cfg.columns.target).to_numpy(), holdout_scores)
    holdout_auc = estimate.auc if estimate else float("nan")
    reference_matrix = encode(window.reference, cfg.columns, mapping)
    # The reference AUC's own standard error widens the drift rule's bound: a holdout that scored high by chance
    # must not make every later batch look like a drop.
    scores = predict_scores(booster, reference_matrix)
    profile = fit_profile(
        window.reference, cfg.columns, scores, holdout_auc, estimate.standard_error if estimate else None
    )
    files = {
        MAPPING: json.dumps(mapping, indent=2, sort_keys=True).encode(),
        HOLDOUT: json.dumps(_holdout_record(plan, window), indent=2).encode(),
        REFERENCE: parquet_bytes(window.reference),
        PROFILE: profile.model_dump_json(indent=2).encode(),
    }
    metrics = {
        "val_auc": float(booster.best_score["val"]["auc"]),
        "holdout_auc": holdout_auc,
        "best_iteration": float(booster.best_iteration),
        "train_rows": float(window.training.rows),
        "holdout_rows": float(window.holdout.height),
        "reference_rows": float(window.reference.height),
    }
    params = {**PARAMS, "max_rounds": MAX_ROUNDS, "window_batches": len(plan.train_batches)}
    # Drawn once here, so every retry of the registration is given the same id and finds the earlier attempts' runs.
    tags = lineage(cfg, plan, trigger_event_id) | {REGISTRATION_TAG: new_registration_id()}
    return ChallengerRecord(booster, params, metrics, tags, files, reference_matrix[:EXAMPLE_ROWS])


@io_task
def register_challenger(cfg: DatasetConfig, record: ChallengerRecord) -> str:
    """Log and register the challenger in MLflow; the new version carries the `challenger` alias.

    A retry finds the version an earlier attempt registered and finishes it rather than registering another.
    """
    return log_challenger(cfg, record)


@io_task
def announce_registered(cfg: DatasetConfig, version: str, record: ChallengerRecord) -> None:
    """Emit `driftloop.model.registered` and keep the `train-<dataset>` record."""
    payload = {"dataset": cfg.name, "model": cfg.model_name, "version": version, **record.metrics, **record.tags}
    event_id = events.deterministic_id(events.MODEL_REGISTERED, cfg.model_name, version)
    events.emit(events.MODEL_REGISTERED, events.model_resource(cfg.model_name, cfg.name), payload, event_id)
    publish_table("train", cfg.name, [payload], f"challenger v{version} registered")


def registered_state(version: str, record: ChallengerRecord) -> State[str]:
    """The run's final state: the version, and a message that says what was trained and why."""
    return Completed(message=f"challenger v{version} registered. {version_description(record)}", data=version)


def lineage(cfg: DatasetConfig, plan: WindowPlan, trigger_event_id: str) -> dict[str, str]:
    """Version tags that lead back to the code, data, contract and run that made the model."""
    module = importlib.import_module(cfg.spec.contract.partition(":")[0])
    return {
        "driftloop.git_commit": git_commit(),
        "driftloop.batches": json.dumps({b: plan.sha256[b] for b in plan.train_batches}),
        "driftloop.holdout_batches": json.dumps(plan.holdout),
        "driftloop.contract": cfg.spec.contract,
        "driftloop.contract_version": str(getattr(module, "CONTRACT_VERSION", "unversioned")),
        "driftloop.flow_run_id": str(flow_run.id or ""),
        "driftloop.trigger_event_id": trigger_event_id,
        "driftloop.onset_batch_id": plan.onset_batch_id,
        "driftloop.mixed_pre_onset_batches": str(plan.mixed_pre_onset),
    }


def git_commit() -> str:
    """The project's HEAD commit, or "unknown" outside a git checkout (e.g. an installed package on a worker)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _holdout_record(plan: WindowPlan, window: Window) -> dict[str, Any]:
    return {
        "rule": "the last N labelled rows of each listed batch, in file order",
        "batches": plan.holdout,
        "rows": window.holdout.height,
    }
