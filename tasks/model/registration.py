"""Registering a challenger in MLflow once: log a run, register its model, tag the version and point `challenger` at it.

A registration id, drawn when the challenger is fitted, tags every run logged for it. A retry of the registration
looks for the runs of the attempts before it: a version registered from one of them is finished (lineage tags,
manifest, alias) and returned instead of registering a second one.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import polars as pl
from mlflow import MlflowClient
from mlflow.models import infer_signature

from tasks.model import integrity
from tasks.model.history import history_prefix
from tasks.model.records import ChallengerRecord, version_description
from tasks.model.registry import CHALLENGER, FILES, client_for, download, set_alias
from tasks.platform.config import DatasetConfig

REGISTRATION_TAG = "driftloop.registration_id"
PIP_REQUIREMENTS = [
    f"mlflow=={mlflow.__version__}",
    f"lightgbm=={lgb.__version__}",
    f"numpy=={np.__version__}",
]


def new_registration_id() -> str:
    return uuid.uuid4().hex


def log_challenger(cfg: DatasetConfig, record: ChallengerRecord) -> str:
    """Log a run (params, metrics, files, importance plot, model), register it and point `challenger` at it.

    Once per registration: with the same record (`driftloop.registration_id` among its tags), a retry returns the
    version an earlier attempt registered, after setting what that attempt left unset. A run of an attempt that
    failed before registering stays as it is (FAILED) and a new run is logged.
    """
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    experiment_id = str(mlflow.set_experiment(cfg.experiment).experiment_id)
    version = registered_version(client_for(cfg), experiment_id, cfg.model_name, record.tags[REGISTRATION_TAG])
    if version is None:
        version = _log_and_register(cfg, experiment_id, record)
    _complete_version(cfg, version, record.tags)
    _describe(cfg, version, record)
    return version


def registered_version(client: MlflowClient, experiment_id: str, model_name: str, registration_id: str) -> str | None:
    """The version of `model_name` registered from a run of this registration, or None."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{REGISTRATION_TAG}` = '{registration_id}'")
    for run in runs:
        versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
        numbers = [int(v.version) for v in versions if v.name == model_name]
        if numbers:
            return str(min(numbers))
    return None


def _log_and_register(cfg: DatasetConfig, experiment_id: str, record: ChallengerRecord) -> str:
    """A new run, carrying the record's tags from its start, registered as a new version of the model; the version is
    created with its lineage tags and manifest (one request, instead of one and a check per tag)."""
    with mlflow.start_run(experiment_id=experiment_id, tags=record.tags), tempfile.TemporaryDirectory() as scratch:
        mlflow.log_params(record.params)
        mlflow.log_metrics(record.metrics)
        files = Path(scratch) / FILES
        files.mkdir()
        _write_files(files, record)
        mlflow.log_artifacts(str(files), FILES)
        info = mlflow.lightgbm.log_model(
            record.booster,
            name="model",
            signature=infer_signature(_frame(record), record.booster.predict(record.example)),
            input_example=_frame(record),
            pip_requirements=PIP_REQUIREMENTS,
        )
        model = download(cfg.mlflow.tracking_uri, Path(scratch) / "model", artifact_uri=info.model_uri)
        manifest = integrity.manifest_of(model, "model") | integrity.manifest_of(files, FILES)
        tags = record.tags | {integrity.MANIFEST_TAG: integrity.encode(manifest)}
        version = mlflow.register_model(info.model_uri, cfg.model_name, tags=tags).version
    return str(version)


def _complete_version(cfg: DatasetConfig, version: str, tags: dict[str, str]) -> None:
    """Set the version's lineage tags and manifest where they are missing, and point `challenger` at it."""
    client = client_for(cfg)
    present = dict(client.get_model_version(cfg.model_name, version).tags)
    for key, value in tags.items():
        if present.get(key) != value:
            client.set_model_version_tag(cfg.model_name, version, key, value)
    if integrity.MANIFEST_TAG not in present:  # written in one call: present means complete
        client.set_model_version_tag(cfg.model_name, version, integrity.MANIFEST_TAG, _manifest(cfg, version))
    set_alias(cfg, CHALLENGER, version)


def _describe(cfg: DatasetConfig, version: str, record: ChallengerRecord) -> None:
    """Say on MLflow's pages what the model is (once) and why this version exists."""
    client = client_for(cfg)
    if not client.get_registered_model(cfg.model_name).description:
        about = (
            f"LightGBM classifier of `{cfg.columns.target}` for dataset {cfg.name!r} (contract {cfg.spec.contract}), "
            f"trained and judged by driftloop. The `champion` alias serves; every decision on it is recorded under "
            f"{cfg.store.uri(history_prefix(cfg.model_name))}."
        )
        client.update_registered_model(cfg.model_name, description=about)
    client.update_model_version(cfg.model_name, version, description=version_description(record))


def _manifest(cfg: DatasetConfig, version: str) -> str:
    """The SHA-256 manifest of a version's model files and `driftloop/` files, as registered."""
    uri = cfg.mlflow.tracking_uri
    run_id = str(client_for(cfg).get_model_version(cfg.model_name, version).run_id)
    with tempfile.TemporaryDirectory() as scratch:
        model = download(uri, Path(scratch) / "model", artifact_uri=f"models:/{cfg.model_name}/{version}")
        files = download(uri, Path(scratch) / "files", run_id=run_id, artifact_path=FILES)
        return integrity.encode(integrity.manifest_of(model, "model") | integrity.manifest_of(files, FILES))


def _frame(record: ChallengerRecord) -> Any:
    return pl.DataFrame(record.example, schema=record.booster.feature_name(), orient="row").to_pandas()


def _write_files(folder: Path, record: ChallengerRecord) -> None:
    for name, body in record.files.items():
        (folder / name).write_bytes(body)
    # Imported here: matplotlib adds half a second to every flow that loads this module, and only training plots.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 6))  # a bare Figure needs no pyplot and no display backend on a worker
    lgb.plot_importance(record.booster, ax=figure.subplots(), importance_type="gain", max_num_features=20)
    figure.tight_layout()
    figure.savefig(folder / "feature_importance.png", dpi=100)
