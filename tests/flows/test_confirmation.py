"""Confirmed drift against real S3, MLflow and Prefect: one unusual batch is transient, drift that persists retrains
once and settles, a performance collapse confirms at once, and a retrain waits for enough of the new regime."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.client.schemas.objects import State

from flows.monitor import monitor
from flows.promote import promote
from flows.retrain import retrain
from flows.score import score
from flows.train import train
from tasks.data import lake
from tasks.model.registry import champion_version
from tasks.model.steps.retrain import claim_retrain
from tasks.monitoring.confirmation import confirmed_onset, parse_marks
from tasks.monitoring.models import MonitorSummary
from tasks.platform.config import DatasetConfig
from tests.batches import write_validated

pytestmark = pytest.mark.integration

ROWS = 3000


def champion_of(cfg: DatasetConfig) -> str:
    for seed in range(4):
        write_validated(cfg, seed, ROWS)
    decision = promote(dataset=cfg.name, challenger_version=train(dataset=cfg.name))
    assert decision.promoted, decision.reasons
    return decision.challenger_version


def check(cfg: DatasetConfig, seed: int, **kind: Any) -> MonitorSummary:
    batch = write_validated(cfg, seed, ROWS, **kind)
    score(dataset=cfg.name, batch_id=batch)
    summary = monitor(dataset=cfg.name, batch_id=batch)
    assert isinstance(summary, MonitorSummary)
    return summary


def retrain_after(cfg: DatasetConfig, summary: MonitorSummary) -> str:
    state: State[Any] = retrain(
        dataset=cfg.name,
        onset_batch_id=summary.onset_batch_id or "",
        champion_version=summary.champion_version,
        return_state=True,
    )
    assert state.is_completed(), state
    return state.message or ""


def test_one_unusual_batch_between_ordinary_ones_is_transient_and_retrains_nothing(dataset: DatasetConfig) -> None:
    version = champion_of(dataset)
    assert not check(dataset, 10).drifted and not check(dataset, 11).drifted
    anomaly = check(dataset, 12, segment=True)
    assert anomaly.drifted and not anomaly.confirmed
    assert {"region", "loan_purpose"} <= set(anomaly.drifted_columns)
    after = [check(dataset, seed) for seed in (13, 14)]
    assert not any(s.drifted for s in after) and after[0].transient_batches == [anomaly.batch_id]
    marks = parse_marks(dataset.store.list_keys(lake.checks_prefix(dataset.name, dataset.model_name, 1)))
    assert confirmed_onset(marks, dataset.drift.confirm_batches) is None
    assert champion_version(dataset) == version


def test_a_sudden_shift_that_persists_is_confirmed_retrained_once_and_then_quiet(dataset: DatasetConfig) -> None:
    version = champion_of(dataset)
    first = check(dataset, 10, shift=1.0)
    assert first.drifted and not first.confirmed
    assert first.report_uri is None and first.report_agreement is None  # the tests' drift policy: no reports
    second = check(dataset, 11, shift=1.0)
    assert second.confirmed and second.onset_batch_id == first.batch_id
    assert retrain_after(dataset, second).startswith("retrained: challenger v2, promoted")
    assert "the champion moved" in retrain_after(dataset, second)  # one retrain per episode
    after = check(dataset, 12, shift=1.0)
    assert not after.drifted and after.champion_version == "2" != version


@pytest.mark.chaos  # nine checks and three retrains: long, so it runs with the fault suite, outside `make test`
def test_a_gradual_shift_retrains_once_per_confirmed_episode_and_is_quiet_once_it_levels_off(
    dataset: DatasetConfig,
) -> None:
    champion_of(dataset)
    seen: list[MonitorSummary] = []
    retrained: list[int] = []  # tenures retrained, as the automation would: at each episode's confirmation
    for i, shift in enumerate((0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)):
        seen.append(check(dataset, 10 + i, shift=shift))
        if seen[-1].confirmed and seen[-1].tenure not in retrained:
            assert retrain_after(dataset, seen[-1]).startswith("retrained")
            retrained.append(seen[-1].tenure)
    first = next(s for s in seen if s.confirmed)
    assert first.episode_batches[0] != first.batch_id  # confirmed once sustained, not on its first drifted batch
    assert not seen[-1].drifted and not seen[-2].drifted  # levelled off: quiet against the last new reference


def test_concept_drift_confirms_on_its_first_batch_through_the_performance_drop(dataset: DatasetConfig) -> None:
    champion_of(dataset)
    flipped = check(dataset, 10, concept=True)
    assert flipped.drifted and flipped.confirmed and flipped.episode_batches == [flipped.batch_id]
    assert flipped.performance is not None and flipped.performance.drop_lower_bound is not None
    assert flipped.performance.drop_lower_bound >= dataset.drift.confirm_performance_drop
    # one batch of the new regime is too little to re-anchor on: the retrain waits, saying so, and uses no attempt
    waiting = claim_retrain.fn(dataset.name, "", flipped.champion_version)
    assert not waiting.granted and "waiting for the new regime: 1 batches with 3000 rows" in waiting.reason
    check(dataset, 11, concept=True)
    assert retrain_after(dataset, flipped).startswith("retrained: challenger v2")
