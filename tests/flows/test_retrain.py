"""The retrain flow against real S3, MLflow and Prefect: drift episodes that never wedge.

A rejection or a failure reopens the episode after the backoff, a dead attempt frees it when its lease ends, a
rollback starts a new tenure, and every attempt counts against the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.client.schemas.objects import State

from blocks import names
from blocks.models import DriftPolicy, PromotionPolicy
from flows.promote import promote
from flows.retrain import retrain
from flows.rollback import rollback
from flows.train import train
from tasks.data import lake
from tasks.data.lake_index import list_batches
from tasks.model import champions
from tasks.model.attempts import attempts_prefix, episode_prefix, read_attempts
from tasks.model.episodes import Attempt
from tasks.model.history import read_log
from tasks.model.registry import champion_version
from tasks.model.steps.retrain import claim_retrain
from tasks.platform.codec import json_bytes
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import NotEnoughData
from tests.batches import write_validated
from tests.flows.test_train_promote import with_window

pytestmark = pytest.mark.integration

ROWS = 2500


@pytest.fixture
def policies(stack_blocks: Any) -> Iterator[Callable[..., None]]:
    """Change fields of the shared policy blocks for one test, and put them back after."""
    saved: list[Block] = [DriftPolicy.load(names.DRIFT_POLICY), PromotionPolicy.load(names.PROMOTION_POLICY)]
    current = list(saved)

    def change(**fields: object) -> None:
        for i, name in enumerate((names.DRIFT_POLICY, names.PROMOTION_POLICY)):
            mine = {key: value for key, value in fields.items() if key in type(current[i]).model_fields}
            if mine:
                current[i] = current[i].model_copy(update=mine)
                current[i].save(name, overwrite=True)

    yield change
    for block, name in zip(saved, (names.DRIFT_POLICY, names.PROMOTION_POLICY), strict=True):
        block.save(name, overwrite=True)


def run_retrain(cfg: DatasetConfig, drifted_champion: str) -> str:
    """The run's message, prefixed by its state's name: `Rejected: retrained: ...`, `Skipped: retrain skipped: ...`."""
    state: State[Any] = retrain(dataset=cfg.name, champion_version=drifted_champion, return_state=True)
    assert state.is_completed(), state
    return f"{state.name}: {state.message}"


def first_champion(cfg: DatasetConfig) -> str:
    for seed in range(8):
        write_validated(cfg, seed, ROWS)
    version = train(dataset=with_window(cfg, 2).name)
    assert promote(dataset=cfg.name, challenger_version=version).promoted
    with_window(cfg, 8)
    return version


def test_a_rejection_reopens_the_episode_after_the_backoff_and_counts_in_the_budget(
    dataset: DatasetConfig, policies: Callable[..., None]
) -> None:
    first_champion(dataset)
    policies(min_auc=0.99)  # every challenger fails the floor

    assert run_retrain(dataset, "1").startswith("Rejected: retrained: challenger v2, rejected")
    skipped = run_retrain(dataset, "1")  # within the backoff: skipped, saying until when
    assert skipped.startswith("Skipped: retrain skipped") and "attempt 1 ended rejected" in skipped
    policies(retry_backoff_minutes=0)
    assert run_retrain(dataset, "1").startswith("Rejected: retrained: challenger v3, rejected")  # attempt 2

    assert len(dataset.store.list_keys(attempts_prefix(dataset.model_name))) == 2
    policies(retrain_budget=2)
    assert "retrain budget spent: 2 attempts" in run_retrain(dataset, "1")
    assert champion_version(dataset) == "1"


def test_the_claim_trains_from_the_confirmed_episode_s_first_batch_whatever_the_event_said(
    dataset: DatasetConfig,
) -> None:
    earlier, later = (write_validated(dataset, seed, ROWS) for seed in (1, 2))
    assert claim_retrain.fn(dataset.name, "", "", later).onset_batch_id == later  # nothing marked: the event's
    metas = {meta.batch_id: meta for meta in list_batches(dataset.store, dataset.name)}
    for batch in (later, earlier):  # monitoring checked them out of ingest order
        dataset.store.put(lake.check_key(dataset.name, dataset.model_name, 0, metas[batch], "drifted"), b"")
    assert claim_retrain.fn(dataset.name, "", "", later).onset_batch_id == earlier


def test_drift_after_a_rollback_is_a_new_episode_and_retrains(dataset: DatasetConfig) -> None:
    first_champion(dataset)
    assert run_retrain(dataset, "1").startswith("Promoted: retrained: challenger v2, promoted")
    assert rollback(dataset=dataset.name).to_version == "1"

    # v1 serves again in a new tenure: its drift retrains, although v1's first tenure already had an episode
    assert run_retrain(dataset, "1").split(": ", 1)[1].startswith("retrained: challenger v3")
    # history: #1 promote v1, #2 promote v2, #3 rollback to v1
    ((attempt, outcome),) = read_attempts(dataset.store, dataset.model_name, 3)
    assert attempt.champion_version == "1" and outcome is not None


def test_an_attempt_whose_process_died_frees_the_episode_when_its_lease_ends(dataset: DatasetConfig) -> None:
    first_champion(dataset)
    tenure = champions.tenure(read_log(dataset))
    now = datetime.now(UTC)
    dead = Attempt(
        dataset=dataset.name,
        model=dataset.model_name,
        tenure=tenure,
        number=1,
        champion_version="1",
        flow_run_id="killed-run",
        trigger_event_id="",
        started_at=now - timedelta(hours=2),
        lease_until=now + timedelta(minutes=5),
    )
    key = f"{episode_prefix(dataset.model_name, tenure)}001.json"
    dataset.store.put(key, json_bytes(dead.model_dump(mode="json")))  # what a SIGKILLed attempt leaves behind
    assert "attempt 1 (flow run killed-run) holds the episode" in run_retrain(dataset, "1")

    expired = dead.model_copy(update={"lease_until": now - timedelta(minutes=1)})
    dataset.store.put(key, json_bytes(expired.model_dump(mode="json")))
    # two requests after the lease ran out, from the automation and a person: one takes attempt 2 ...
    first, second = (claim_retrain.fn(dataset.name, "", "1") for _ in range(2))
    assert (first.granted, first.attempt) == (True, 2)
    assert not second.granted and "attempt 2 (flow run" in second.reason  # ... the other finds it held


def test_a_failed_retrain_ends_its_attempt_as_failed_and_counts(
    dataset: DatasetConfig, policies: Callable[..., None]
) -> None:
    write_validated(dataset, 0, ROWS)  # too few labelled rows to train on

    state: State[Any] = retrain(dataset=dataset.name, return_state=True)
    assert state.is_failed()
    with pytest.raises(NotEnoughData):
        state.result()
    ((_, outcome),) = read_attempts(dataset.store, dataset.model_name, 0)
    assert outcome is not None and outcome.ending == "failed"
    assert "attempt 1 ended failed" in run_retrain(dataset, "")  # not retried at once, and not locked out either
    policies(retry_backoff_minutes=0)
    assert retrain(dataset=dataset.name, return_state=True).is_failed()
    assert len(dataset.store.list_keys(attempts_prefix(dataset.model_name))) == 2
