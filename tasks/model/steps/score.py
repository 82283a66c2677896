"""Score steps: the champion path from a validated batch to stored predictions, and the holdout promotion reads.

`predict` (tasks.model.scoring) is pure; the tasks here read the batch, check it against the contract first (a
batch whose columns left the contract fails with ContractViolation before LightGBM sees it), and write predictions once.
"""

from __future__ import annotations

import polars as pl
from prefect.client.schemas.objects import State
from prefect.states import Completed

from tasks.data import lake_io
from tasks.data.lake import checks_prefix, predictions_key, scoring_health_key
from tasks.data.lake_io import read_batch
from tasks.model import champions, history
from tasks.model.bake import shadow_of
from tasks.model.registry import champion_version, load_holdout, load_model
from tasks.model.scoring import ScoredBatch, ScoringHealth, prediction_frame, timed_predict
from tasks.model.window_rows import holdout_rows
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.contract import validate
from tasks.platform.retry import io_task, step_task

__all__ = ["ScoredBatch", "load_dataset"]  # re-exported: flows import steps only


@io_task
def resolve_batch(cfg: DatasetConfig, batch_id: str) -> str:
    """The given batch id if the lake holds it (else an error naming the newest ones), or the newest when empty."""
    return lake_io.resolve_batch(cfg.store, cfg.name, batch_id, "score")


@io_task
def current_champion(cfg: DatasetConfig) -> str | None:
    """The exact champion version now, or None when there is none yet."""
    return champion_version(cfg)


def no_champion_yet(cfg: DatasetConfig) -> State[None]:
    """Scoring before the first promotion is expected, not a failure: the run completes and says what comes next."""
    return Completed(
        message=f"nothing scored: {cfg.model_name} has no champion yet; run `train` then `promote` for dataset "
        f"{cfg.name!r} (the reconcile flow scores waiting batches once a champion exists)"
    )


@io_task
def shadow_version(cfg: DatasetConfig, version: str) -> str | None:
    """The champion `version` replaced, while `version` bakes (tasks.model.bake): it scores the batch too, unserved.
    The bake counts the batches monitor checked in the champion's tenure."""
    log = history.read_recent(cfg)
    bake = cfg.promotion.bake_batches
    checked = cfg.store.first_keys(checks_prefix(cfg.name, cfg.model_name, champions.tenure(log)), bake)
    return shadow_of(log, version, len(checked), bake)


@step_task
def score_batch(cfg: DatasetConfig, batch_id: str, version: str, shadow: str | None = None) -> ScoredBatch:
    """Validate, encode, predict and write predictions once (a retried run finds them and reuses them); the
    shadow version's too, under its own version, where a new champion bakes."""
    frame = validate(read_batch(cfg.store, cfg.name, batch_id), cfg.contract)
    health = _score_and_store(cfg, frame, batch_id, version)
    if shadow is not None:
        _score_and_store(cfg, frame, batch_id, shadow)
    return ScoredBatch(
        dataset=cfg.name,
        batch_id=batch_id,
        model_version=version,
        predictions_uri=cfg.store.uri(predictions_key(cfg.name, version, batch_id)),
        rows=frame.height,
        health=health,
        shadow_version=shadow,
    )


def _score_and_store(cfg: DatasetConfig, frame: pl.DataFrame, batch_id: str, version: str) -> ScoringHealth:
    scores, health = timed_predict(load_model(cfg, version), frame, cfg.columns)
    key = predictions_key(cfg.name, version, batch_id)
    cfg.store.write_parquet_if_absent(key, prediction_frame(frame, cfg.columns, scores, version))
    cfg.store.put_if_absent(scoring_health_key(cfg.name, version, batch_id), json_bytes(health.model_dump()))
    return health


@io_task
def announce_scored(cfg: DatasetConfig, scored: ScoredBatch) -> None:
    """Emit `driftloop.batch.scored` and leave the keyed record of which version scored what."""
    # One id per batch and version: a retried announcement does not start a second monitor run.
    event_id = events.deterministic_id("scored", cfg.name, scored.batch_id, scored.model_version)
    events.emit(events.BATCH_SCORED, events.batch_resource(cfg.name, scored.batch_id), scored.model_dump(), event_id)
    description = f"batch {scored.batch_id} scored by v{scored.model_version}: {scored.rows:,} rows"
    publish_table("score", cfg.name, [scored.model_dump()], description)


def read_holdout(cfg: DatasetConfig, version: str) -> pl.DataFrame:
    """The exact holdout rows recorded with `version`, re-derived per batch from its recorded `{batch: rows}`."""
    counts: dict[str, int] = load_holdout(cfg, version)["batches"]
    target = pl.col(cfg.columns.target).is_not_null()
    return holdout_rows({b: read_batch(cfg.store, cfg.name, b).filter(target) for b in counts}, counts)
