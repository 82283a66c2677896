"""A new champion's bake period on the real S3, MLflow and Prefect server: the champion it replaced scores beside it,
monitor judges the two on the same labelled rows, a clear loss is announced once and rolled back once, a healthy
promotion is kept, and the bake ends after its batches or with a rollback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from deployments.watch.events import wait_for_events
from flows.monitor import monitor
from flows.promote import promote
from flows.rollback import rollback
from flows.score import score
from flows.train import train
from tasks.data import lake
from tasks.model.registry import champion_version
from tasks.model.scoring import ScoredBatch
from tasks.monitoring.models import MonitorSummary
from tasks.platform.config import DatasetConfig
from tasks.platform.events import MODEL_DEGRADED
from tests.batches import write_validated
from tests.flows.test_train_promote import train_on

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROWS = 2500


def promoted_over(cfg: DatasetConfig, shift: float = 0.0, concept: bool = False) -> tuple[str, str]:
    """v1 trained on four ordinary batches and promoted; then v2 trained on four batches of another world (a
    recession, or a flipped concept) and promoted over it, since it wins on that world's holdout."""
    for seed in range(4):
        write_validated(cfg, seed, ROWS)
    first = train(dataset=cfg.name)
    assert promote(dataset=cfg.name, challenger_version=first).promoted
    for seed in range(4, 8):
        write_validated(cfg, seed, ROWS, shift=shift, concept=concept)
    second = train_on(cfg, 4)
    decision = promote(dataset=cfg.name, challenger_version=second)
    assert decision.promoted, decision
    return first, second


def score_and_monitor(cfg: DatasetConfig, seed: int, shift: float = 0.0) -> tuple[ScoredBatch, MonitorSummary, str]:
    """A new labelled batch scored and monitored by the flows; what each returned, and the monitor run's state."""
    batch = write_validated(cfg, seed, ROWS, shift=shift)
    scored = score(dataset=cfg.name, batch_id=batch)
    assert isinstance(scored, ScoredBatch)
    state = monitor(dataset=cfg.name, batch_id=batch, return_state=True)
    assert state.is_completed() and state.name is not None, state
    return scored, state.result(), state.name


def test_a_champion_worse_than_the_one_it_replaced_is_found_degraded_and_rolled_back_once(
    dataset: DatasetConfig,
) -> None:
    since = datetime.now(UTC)
    first, second = promoted_over(dataset, concept=True)

    # when: the world flips back right after the promotion
    scored, summary, state = score_and_monitor(dataset, seed=20)

    # then: the replaced champion scored the batch too, unserved, and the bake check finds the new one degraded
    assert (scored.model_version, scored.shadow_version) == (second, first)
    assert dataset.store.exists(lake.predictions_key(dataset.name, first, scored.batch_id))
    bake = summary.bake
    assert bake is not None and bake.outcome == "degraded" and state == "Degraded"
    assert bake.previous_auc is not None and bake.champion_auc is not None and bake.drop_lower_bound is not None
    assert bake.drop_lower_bound > dataset.promotion.rollback_margin and bake.labelled_rows == ROWS
    assert f"v{first} beats v{second}" in bake.reasons[0]
    mine = {"where": lambda event: event.resource.id == f"driftloop.model.{dataset.model_name}"}
    (event,) = wait_for_events([MODEL_DEGRADED], since, **mine)
    assert event.payload["champion_version"] == second and event.payload["previous_version"] == first

    # when: the automation's rollback runs, and runs again for the same degradation
    move = rollback(dataset=dataset.name, from_version=second, reason="degraded in its bake period")
    again = rollback(dataset=dataset.name, from_version=second, reason="degraded in its bake period", return_state=True)

    # then: one move back, recorded with the reason; the second moves nothing and says why
    assert not isinstance(move, type(again)) and (move.from_version, move.to_version) == (second, first)
    assert move.why == f"rollback from v{second} to v{first}: degraded in its bake period"
    assert again.is_completed() and again.name == "Skipped" and champion_version(dataset) == first
    assert f"v{second} of {dataset.model_name} is no longer the champion" in (again.message or "")

    # then: the rollback ended the bake: the next batch is scored by the restored champion alone
    after, summary, _ = score_and_monitor(dataset, seed=21)
    assert (after.model_version, after.shadow_version, summary.bake) == (first, None, None)


def test_a_healthy_promotion_is_kept_and_its_bake_ends_after_its_batches(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    cfg = promotion_policy(bake_batches=2)
    since = datetime.now(UTC)
    first, second = promoted_over(cfg, shift=1.0)

    # when: the recession the new champion learned goes on for three batches
    checks = [score_and_monitor(cfg, seed, shift=1.0) for seed in (20, 21, 22)]

    # then: the first two are judged kept, with the replaced champion scoring beside; the third is past the bake
    assert [scored.shadow_version for scored, _, _ in checks] == [first, first, None]
    outcomes = [summary.bake.outcome if summary.bake else None for _, summary, _ in checks]
    assert outcomes == ["kept", "kept", None]
    kept = checks[0][1].bake
    assert kept is not None and kept.champion_auc is not None and kept.previous_auc is not None
    assert kept.champion_auc > kept.previous_auc
    assert champion_version(cfg) == second
    mine = {"where": lambda event: event.resource.id == f"driftloop.model.{cfg.model_name}"}
    assert wait_for_events([MODEL_DEGRADED], since, timeout=5, **mine) == []
