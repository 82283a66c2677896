"""Score and rollback against real S3, MLflow and Prefect: exact champion version, contract first, restorable."""

from __future__ import annotations

import polars as pl
import pytest

from flows.promote import promote
from flows.rollback import rollback
from flows.score import score
from flows.train import train
from tasks.data.lake import BatchMeta, predictions_key
from tasks.data.lake_index import list_batches
from tasks.data.lake_io import read_batch, write_batch
from tasks.model.champions import moves
from tasks.model.history import read_log
from tasks.model.registry import champion_version, client_for, forget_loaded_versions
from tasks.platform.config import DatasetConfig
from tasks.platform.errors import ConfigurationError, ContractViolation, IntegrityError
from tests.flows.test_train_promote import land, train_on, with_window

pytestmark = pytest.mark.integration


def test_score_without_champion_completes_saying_train_then_promote(dataset: DatasetConfig) -> None:
    land(dataset, 1)
    state = score(dataset=dataset.name, return_state=True)
    assert state.is_completed() and state.message is not None
    assert "no champion yet; run `train` then `promote`" in state.message
    assert dataset.store.list_keys(f"predictions/{dataset.name}/") == []


def test_rollback_restores_previous_champion_and_scoring_uses_it(dataset: DatasetConfig) -> None:
    batches = land(dataset, 8)
    first = promote(dataset=with_window(dataset, 2).name, challenger_version=train(dataset=dataset.name))
    second = promote(dataset=with_window(dataset, 8).name, challenger_version=train(dataset=dataset.name))
    assert first.promoted and second.promoted and champion_version(dataset) == "2"

    move = rollback(dataset=dataset.name)
    assert (move.from_version, move.to_version, move.action) == ("2", "1", "rollback")
    assert champion_version(dataset) == "1"
    assert [(m.from_version, m.to_version) for m in moves(read_log(dataset))] == [(None, "1"), ("1", "2"), ("2", "1")]

    scored = score(dataset=dataset.name)
    assert (scored.batch_id, scored.model_version, scored.rows) == (batches[-1], "1", 2500)
    predictions = dataset.store.read_parquet(predictions_key(dataset.name, "1", batches[-1]))
    assert predictions.columns == ["application_id", "prediction", "model_version"]
    assert predictions.height == 2500 and predictions["model_version"].unique().to_list() == ["1"]
    assert predictions["prediction"].is_between(0, 1).all()


def test_scoring_a_batch_out_of_contract_fails_before_the_model(dataset: DatasetConfig) -> None:
    land(dataset, 6)
    promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name))
    good = list_batches(dataset.store, dataset.name)[-1]
    drifted = read_batch(dataset.store, dataset.name, good.batch_id).with_columns(
        pl.col("region").str.to_uppercase(), pl.col("age").cast(pl.String).alias("age")
    )
    meta = BatchMeta(**{**good.model_dump(), "batch_id": "drifted-columns", "sha256": "x" * 64})
    write_batch(dataset.store, meta, drifted)
    with pytest.raises(ContractViolation, match="region"):
        score(dataset=dataset.name, batch_id="drifted-columns")
    assert not dataset.store.exists(predictions_key(dataset.name, "1", "drifted-columns"))


def test_a_tampered_model_file_is_refused_and_nothing_is_scored(dataset: DatasetConfig) -> None:
    batches = land(dataset, 6)
    promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name))
    client = client_for(dataset)
    experiment = client.get_experiment_by_name(dataset.experiment)
    assert experiment is not None
    (model_key,) = [
        key for key in dataset.store.list_keys(f"mlflow/{experiment.experiment_id}/") if key.endswith("/model.lgb")
    ]
    body = bytearray(dataset.store.get(model_key))
    body[len(body) // 2] ^= 0x01  # one bit of one byte
    dataset.store.put(model_key, bytes(body))
    forget_loaded_versions()

    with pytest.raises(IntegrityError, match=r"model credit-risk-credit-\w+ v1: model/model.lgb does not match"):
        score(dataset=dataset.name)
    assert not dataset.store.exists(predictions_key(dataset.name, "1", batches[-1]))


def test_rollbacks_walk_the_history_back_and_refuse_what_was_never_champion(dataset: DatasetConfig) -> None:
    land(dataset, 12)
    promoted = [promote(dataset=dataset.name, challenger_version=train_on(dataset, n)) for n in (2, 6, 12)]
    assert [d.outcome for d in promoted] == ["promoted", "promoted", "promoted"] and champion_version(dataset) == "3"
    rejected = promote(dataset=dataset.name, challenger_version=train(dataset=with_window(dataset, 2).name))
    assert rejected.outcome == "rejected"

    assert rollback(dataset=dataset.name).to_version == "2"
    assert rollback(dataset=dataset.name).to_version == "1"  # one step further back, never forward to v3
    assert champion_version(dataset) == "1"
    with pytest.raises(ConfigurationError, match="no earlier champion"):
        rollback(dataset=dataset.name)
    with pytest.raises(ConfigurationError, match=r"v4 was rejected and never champion"):
        rollback(dataset=dataset.name, to_version=4)
    with pytest.raises(ConfigurationError, match=r"v1 is the champion already"):
        rollback(dataset=dataset.name, to_version="1")
    assert rollback(dataset=dataset.name, to_version=3).to_version == "3"  # a named champion of the past is fine
    assert champion_version(dataset) == "3"


def test_an_unknown_batch_id_is_answered_with_the_newest_batch_ids(dataset: DatasetConfig) -> None:
    landed = land(dataset, 2)
    with pytest.raises(ConfigurationError, match=r"batch 'no-such-batch' of .* is not in the lake") as raised:
        score(dataset=dataset.name, batch_id="no-such-batch")
    assert all(batch_id in str(raised.value) for batch_id in landed)


def test_an_unknown_version_is_answered_with_the_model_s_versions(dataset: DatasetConfig) -> None:
    with pytest.raises(ConfigurationError, match=r"has no version '7'; it has no version yet: run `train` first"):
        promote(dataset=dataset.name, challenger_version="7")
    land(dataset, 3)
    train_on(dataset, 2)
    with pytest.raises(ConfigurationError, match=r"has no version '7'; its versions: 1$"):
        promote(dataset=dataset.name, challenger_version=7)
    with pytest.raises(ConfigurationError, match=r"has no version '42'; its versions: 1$"):
        rollback(dataset=dataset.name, to_version="42", force=True)
