"""The MLflow model registry: resolve aliases, load a version and what it carries (registration.py adds versions).

Every version carries, as run artifacts under `driftloop/`: its category mapping, its holdout (the exact rows
promotion judges on), its reference sample and the drift profile fitted on it. Loading goes by exact version, so a
consumer records which model it used even when the alias moves a moment later.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import polars as pl
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tasks.model import integrity
from tasks.model.records import LoadedModel
from tasks.monitoring.drift import DriftProfile
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import ConfigurationError

CHAMPION = "champion"
CHALLENGER = "challenger"
FILES = "driftloop"
MAPPING, HOLDOUT, REFERENCE, PROFILE = "mapping.json", "holdout.json", "reference.parquet", "profile.json"


def client_for(cfg: DatasetConfig) -> MlflowClient:
    return MlflowClient(tracking_uri=cfg.mlflow.tracking_uri, registry_uri=cfg.mlflow.tracking_uri)


def alias_version(cfg: DatasetConfig, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    try:
        return str(client_for(cfg).get_model_version_by_alias(cfg.model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"} or "not found" in str(exc):
            return None
        raise


def champion_version(cfg: DatasetConfig) -> str | None:
    return alias_version(cfg, CHAMPION)


def every_alias(cfg: DatasetConfig) -> dict[str, dict[str, str]]:
    """Every registered model's aliases (alias -> version) on `cfg`'s server, a thousand models a request: what
    watches many models polls, instead of a request per model and alias."""
    client, token = client_for(cfg), None
    found: dict[str, dict[str, str]] = {}
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        found |= {model.name: {alias: str(v) for alias, v in model.aliases.items()} for model in page}
        if not (token := page.token):
            return found


def require_version(cfg: DatasetConfig, version: str) -> str:
    """`version` if the model has it; else a ConfigurationError that lists the versions it has."""
    client = client_for(cfg)
    found = client.search_model_versions(f"name='{cfg.model_name}'")
    versions = sorted((str(v.version) for v in found), key=int)
    if version not in versions:
        there = f"its versions: {', '.join(versions)}" if versions else "it has no version yet: run `train` first"
        raise ConfigurationError(f"{cfg.model_name} has no version {version!r}; {there}")
    return version


def set_alias(cfg: DatasetConfig, alias: str, version: str) -> None:
    client_for(cfg).set_registered_model_alias(cfg.model_name, alias, version)


def add_to_description(cfg: DatasetConfig, version: str, line: str) -> None:
    """Append a line to the version's description once (a retry finds it there)."""
    client = client_for(cfg)
    current = client.get_model_version(cfg.model_name, version).description or ""
    if line not in current:
        client.update_model_version(cfg.model_name, version, description=f"{current}\n\n{line}".strip())


def release_alias(cfg: DatasetConfig, alias: str, version: str) -> None:
    """Delete `alias` if it still points at `version` (a newer training may have taken it meanwhile). MLflow has no
    compare-and-set on aliases: a training that moves it between the check and the delete loses it, and `promote`
    with no version then says there is no challenger; name the version to judge it."""
    if alias_version(cfg, alias) == version:
        client_for(cfg).delete_registered_model_alias(cfg.model_name, alias)


def load_model(cfg: DatasetConfig, version: str) -> LoadedModel:
    """The booster and category mapping of an exact version (cached: a version never changes)."""
    return _load_model(cfg.mlflow.tracking_uri, cfg.model_name, version)


def load_reference(cfg: DatasetConfig, version: str) -> tuple[pl.DataFrame, DriftProfile]:
    """The reference sample and drift profile stored with a version."""
    files = _version_files(cfg.mlflow.tracking_uri, cfg.model_name, version)
    return pl.read_parquet(files / REFERENCE), DriftProfile.model_validate_json((files / PROFILE).read_text())


def load_holdout(cfg: DatasetConfig, version: str) -> dict[str, Any]:
    """The holdout definition recorded with a version: batch ids, rows taken per batch and the row ids."""
    files = _version_files(cfg.mlflow.tracking_uri, cfg.model_name, version)
    holdout: dict[str, Any] = json.loads((files / HOLDOUT).read_text())
    return holdout


def forget_loaded_versions() -> None:
    """Drop this process's cache of loaded versions, so the next load downloads and verifies again."""
    _load_model.cache_clear()
    _version_files.cache_clear()


@lru_cache(maxsize=16)
def _load_model(tracking_uri: str, model_name: str, version: str) -> LoadedModel:
    details = MlflowClient(tracking_uri, tracking_uri).get_model_version(model_name, version)
    with tempfile.TemporaryDirectory() as scratch:
        path = download(tracking_uri, Path(scratch), artifact_uri=f"models:/{model_name}/{version}")
        integrity.verify(path, "model", dict(details.tags), f"model {model_name} v{version}")
        booster = lgb.Booster(model_file=str(path / "model.lgb"))
    mapping = json.loads((_version_files(tracking_uri, model_name, version) / MAPPING).read_text())
    return LoadedModel(version=version, booster=booster, mapping=mapping, run_id=str(details.run_id))


@lru_cache(maxsize=16)
def _version_files(tracking_uri: str, model_name: str, version: str) -> Path:
    """Download a version's `driftloop/` files once per process into a private temp folder, verified."""
    details = MlflowClient(tracking_uri, tracking_uri).get_model_version(model_name, version)
    scratch = tempfile.mkdtemp(prefix=f"driftloop-{model_name}-{version}-")  # mode 0700: no one else writes here
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # kept while the process may read it again
    path = download(tracking_uri, Path(scratch), run_id=str(details.run_id), artifact_path=FILES)
    integrity.verify(path, FILES, dict(details.tags), f"model {model_name} v{version}")
    return path


def download(tracking_uri: str, destination: Path, **source: str) -> Path:
    """Download artifacts (`artifact_uri=`, or `run_id=` and `artifact_path=`) into a folder only this user reads."""
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    if source.get("artifact_uri", "").startswith("models:/"):
        # MLflow resolves a `models:/` URI (and the logged model behind a version) through the process's global
        # tracking and registry URIs only, and without them it opens a sqlite file in the working directory: point
        # them at the server this dataset names (every process driftloop starts sets the same one).
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    return Path(mlflow.artifacts.download_artifacts(**source, dst_path=str(destination), tracking_uri=tracking_uri))
