"""The retrain flow against real S3, MLflow and Prefect: one retrain per episode, skips that say why, and a failed
retrain that gives its episode back."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.client.schemas.objects import State

from flows.promote import promote
from flows.retrain import retrain
from flows.train import train
from tasks.model.registry import champion_version
from tasks.model.steps.retrain import claims_prefix, idempotency_key
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import NotEnoughData
from tests.batches import write_validated
from tests.flows.test_train_promote import with_window

pytestmark = pytest.mark.integration

ROWS = 2500


def run_retrain(cfg: DatasetConfig, drifted_champion: str) -> str:
    state: State[Any] = retrain(dataset=cfg.name, champion_version=drifted_champion, return_state=True)
    assert state.is_completed(), state
    return state.message or ""


def test_one_retrain_per_episode_and_every_other_request_skips_saying_why(dataset: DatasetConfig) -> None:
    for seed in range(8):
        write_validated(dataset, seed, ROWS)
    weak = train(dataset=with_window(dataset, 2).name)
    assert promote(dataset=dataset.name, challenger_version=weak).promoted
    with_window(dataset, 8)

    # the drift against v1 retrains once and promotes the better challenger
    assert run_retrain(dataset, "1").startswith("retrained: challenger v2")
    assert champion_version(dataset) == "2"
    # a queued duplicate of that episode finds the champion replaced
    assert "champion moved from v1 to v2" in run_retrain(dataset, "1")
    # a drift against v2: one retrain (a tie on the same data keeps v2), then the episode is handled
    assert run_retrain(dataset, "2").startswith("retrained: challenger v3")
    assert "episode already handled by flow run" in run_retrain(dataset, "2")
    assert champion_version(dataset) == "2"
    claims = dataset.store.list_keys(claims_prefix(dataset.model_name))
    assert len(claims) == 2


def test_a_failed_retrain_releases_its_claim_so_the_episode_can_be_retried(dataset: DatasetConfig) -> None:
    write_validated(dataset, 0, ROWS)  # too few labelled rows to train on
    claim = f"{claims_prefix(dataset.model_name)}{idempotency_key(dataset.model_name, None)}.json"

    for _ in range(2):  # the second attempt is not skipped as "already handled": it fails for the same reason
        state: State[Any] = retrain(dataset=dataset.name, return_state=True)
        assert state.is_failed()
        with pytest.raises(NotEnoughData):
            state.result()
        assert not dataset.store.exists(claim)
