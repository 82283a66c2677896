"""Train and promote against real S3, MLflow and Prefect: determinism, lineage, every gate outcome, racing moves."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import requests
from botocore.exceptions import ConnectionClosedError
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from prefect import flow
from prefect.artifacts import Artifact

from flows.promote import promote
from flows.train import train
from tasks.contracts.credit import CONTRACT_VERSION, REGION
from tasks.data.lake_index import list_batches
from tasks.model import integrity
from tasks.model.champions import moves
from tasks.model.gates import PromotionDecision
from tasks.model.history import read_log
from tasks.model.registration import REGISTRATION_TAG
from tasks.model.registry import (
    CHALLENGER,
    alias_version,
    champion_version,
    client_for,
    every_alias,
    load_holdout,
    load_model,
    load_reference,
)
from tasks.model.scoring import predict
from tasks.model.steps.promote import apply_decision, judge
from tasks.model.steps.score import read_holdout
from tasks.platform.artifacts import artifact_key
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.errors import ConfigurationError, NotEnoughData
from tests.batches import write_validated

pytestmark = pytest.mark.integration

ROWS = 2500
START = datetime(2024, 1, 1, tzinfo=UTC)


def land(cfg: DatasetConfig, count: int, first_seed: int = 0, concept: bool = False) -> list[str]:
    """Write `count` validated batches straight into the lake, oldest first; return their ids."""
    return [write_validated(cfg, seed, ROWS, concept=concept) for seed in range(first_seed, first_seed + count)]


def with_window(cfg: DatasetConfig, train_batches: int) -> DatasetConfig:
    """Save the dataset block with another training-window size and reload it."""
    cfg.spec.train_batches = train_batches
    cfg.spec.save(cfg.name, overwrite=True)
    return load_dataset(cfg.name)


def train_on(cfg: DatasetConfig, train_batches: int) -> str:
    """Train a challenger on the newest `train_batches` batches (the window is read from the saved block)."""
    return train(dataset=with_window(cfg, train_batches).name)


def gate(decision: PromotionDecision, name: str) -> dict[str, Any]:
    return next(g.model_dump() for g in decision.gates if g.gate == name)


def test_training_twice_on_one_window_is_identical_and_lineage_resolves(dataset: DatasetConfig) -> None:
    batches = land(dataset, 6)
    first = train(dataset=dataset.name, trigger_event_id="evt-1")
    second_state = train(dataset=dataset.name, return_state=True)
    second = second_state.result()
    assert (first, second) == ("1", "2")
    assert (second_state.message or "").startswith("challenger v2 registered. Trained on the normal window")
    assert alias_version(dataset, CHALLENGER) == "2"
    holdout = read_holdout(dataset, first)
    np.testing.assert_array_equal(
        predict(load_model(dataset, first), holdout, dataset.columns),
        predict(load_model(dataset, second), holdout, dataset.columns),
    )
    tags = client_for(dataset).get_model_version(dataset.model_name, first).tags
    lake = {m.batch_id: m.sha256 for m in list_batches(dataset.store, dataset.name)}
    window = json.loads(tags["driftloop.batches"])
    assert list(window) == batches and all(lake[b] == digest for b, digest in window.items())
    assert tags["driftloop.contract_version"] == CONTRACT_VERSION
    assert tags["driftloop.trigger_event_id"] == "evt-1"
    assert len(tags["driftloop.git_commit"]) in {40, len("unknown")}
    assert tags["driftloop.flow_run_id"]
    recorded = load_holdout(dataset, first)
    assert holdout.height == recorded["rows"] == dataset.spec.holdout_rows
    assert recorded["batches"] == {batches[-1]: ROWS, batches[-2]: 4000 - ROWS}  # the 4000 newest rows
    reference, profile = load_reference(dataset, first)
    assert reference.height == profile.rows == 6 * ROWS  # under the 20k bound: the whole pool
    assert profile.reference_auc is not None and profile.reference_auc > 0.65


def test_a_retried_register_challenger_whose_registration_answer_was_lost_leaves_one_complete_version(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(dataset, 4)
    real_create = MlflowClient._create_model_version
    faults: list[str] = []

    def lose_the_answer_once(self: MlflowClient, name: str, *args: Any, **kwargs: Any) -> Any:
        created = real_create(self, name, *args, **kwargs)  # the server registered it...
        if not faults:
            faults.append(f"{name} v{created.version}")
            try:
                raise requests.ConnectionError("Connection reset by peer")  # ...and its answer never arrived
            except requests.ConnectionError as exc:
                # as MLflow's client wraps a failed request: the cause is only the implicit context
                raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904
        return created

    monkeypatch.setattr(MlflowClient, "_create_model_version", lose_the_answer_once)
    version = train(dataset=dataset.name)

    client = client_for(dataset)
    assert faults == [f"{dataset.model_name} v1"]  # the retry found the version the lost answer was about
    assert version == "1"
    (registered,) = client.search_model_versions(f"name='{dataset.model_name}'")
    assert registered.version == "1" and integrity.MANIFEST_TAG in registered.tags
    assert alias_version(dataset, CHALLENGER) == "1"
    runs = client.search_runs(
        [client.get_experiment_by_name(dataset.experiment).experiment_id],
        filter_string=f"tags.`{REGISTRATION_TAG}` = '{registered.tags[REGISTRATION_TAG]}'",
    )
    assert [run.info.run_id for run in runs] == [registered.run_id]
    assert load_model(dataset, version).version == "1"  # the manifest matches what was registered


def test_too_few_labelled_rows_is_not_enough_data(dataset: DatasetConfig) -> None:
    land(dataset, 1)
    with pytest.raises(NotEnoughData, match=r"2500 labelled rows in 1 batches"):
        train(dataset=dataset.name)


def test_better_is_promoted_tie_and_worse_are_rejected_with_numbers(dataset: DatasetConfig) -> None:
    land(dataset, 8)
    # 1000 training rows: a weak but valid first champion
    first = promote(dataset=dataset.name, challenger_version=train_on(dataset, 2))
    assert first.promoted and {g.gate for g in first.gates} == {"auc-floor", "latency"}

    better = promote(dataset=dataset.name, challenger_version=train_on(dataset, 8))
    assert better.promoted, better.reasons
    assert gate(better, "lift")["value"] > 0.002 and gate(better, "lift-confidence")["value"] > 0

    tie = promote(dataset=dataset.name, challenger_version=train_on(dataset, 8))
    assert not tie.promoted and gate(tie, "lift")["value"] == 0.0
    assert alias_version(dataset, CHALLENGER) is None  # a decided version no longer waits for judgement
    # MLflow says why each version exists and what became of it, and what the model is
    described = client_for(dataset).get_model_version(dataset.model_name, better.challenger_version).description
    assert described.startswith("Trained on the normal window (run by hand or schedule)") and "holdout AUC" in described
    assert f"Decision #2: promoted v{better.challenger_version}" in described
    assert (
        "LightGBM classifier of `defaulted`" in client_for(dataset).get_registered_model(dataset.model_name).description
    )
    assert any(r.startswith("lift:") for r in tie.reasons)

    worse_state = promote(dataset=dataset.name, challenger_version=train_on(dataset, 2), return_state=True)
    worse = worse_state.result()
    assert not worse.promoted and gate(worse, "lift")["value"] < 0
    # the runs list shows the decision: a named Completed state whose message carries the reasons
    assert worse_state.is_completed() and worse_state.name == "Rejected"
    assert worse_state.message == str(worse) and "lift:" in worse_state.message
    assert champion_version(dataset) == better.challenger_version == "2"
    artifact = Artifact.get(f"promotion-{dataset.name}")
    assert artifact is not None and artifact.data is not None
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    rows = {row["gate"]: row for row in table}
    # the table is for people: four significant digits
    assert rows["lift"]["passed"] is False and rows["lift"]["value"] == pytest.approx(
        gate(worse, "lift")["value"], rel=1e-3
    )
    assert [r.action for r in read_log(dataset)] == ["promote", "promote", "reject", "reject"]
    assert [(m.from_version, m.to_version) for m in moves(read_log(dataset))] == [(None, "1"), ("1", "2")]


def test_racing_promotions_on_one_champion_move_it_once(dataset: DatasetConfig) -> None:
    land(dataset, 6)
    versions = [train(dataset=dataset.name), train(dataset=with_window(dataset, 2).name)]
    # both judged against the same history (no champion yet: both pass the absolute gates) ...
    judged = [judge.fn(dataset, version) for version in versions]
    assert all(d.promoted and d.judged_at == 0 for d in judged)
    # ... then decided at once
    decided: list[PromotionDecision] = []
    threads = [threading.Thread(target=lambda d=d: decided.append(apply_decision.fn(dataset, d))) for d in judged]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(d.outcome for d in decided) == ["promoted", "stale-champion"]
    (winner,) = [d for d in decided if d.promoted]
    log = read_log(dataset)
    assert [(r.sequence, r.action, r.to_version) for r in log] == [(1, "promote", winner.challenger_version)]
    assert champion_version(dataset) == winner.challenger_version


def test_a_lost_response_on_the_history_write_still_promotes_once(
    dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    client = dataset.store.client
    real_put = client.put_object
    lost: list[str] = []

    def put_then_lose_the_answer(**kwargs: Any) -> Any:
        answer = real_put(**kwargs)
        if "/history/" in kwargs["Key"] and not lost:
            lost.append(kwargs["Key"])
            raise ConnectionClosedError(endpoint_url="http://lost-response")
        return answer

    monkeypatch.setattr(client, "put_object", put_then_lose_the_answer)
    decision = promote(dataset=dataset.name, challenger_version=version)

    assert lost and decision.outcome == "promoted"
    assert [(r.sequence, r.action) for r in read_log(dataset)] == [(1, "promote")]
    assert champion_version(dataset) == version


def test_promoting_the_champion_itself_changes_nothing_and_says_so(dataset: DatasetConfig) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    assert promote(dataset=dataset.name, challenger_version=version).promoted
    again = promote(dataset=dataset.name, challenger_version=int(version))
    assert again.outcome == "unchanged" and "champion already" in again.reasons[0]
    assert len(read_log(dataset)) == 1


def test_an_alias_moved_outside_driftloop_is_reported_not_followed(dataset: DatasetConfig) -> None:
    land(dataset, 4)
    first = train(dataset=dataset.name)
    assert promote(dataset=dataset.name, challenger_version=first).promoted
    second = train(dataset=dataset.name)
    assert every_alias(dataset)[dataset.model_name] == {"champion": first, "challenger": second}  # the server's poll
    client_for(dataset).set_registered_model_alias(dataset.model_name, "champion", second)  # by hand
    assert every_alias(dataset)[dataset.model_name] == {"champion": second, "challenger": second} != {"champion": first}
    with pytest.raises(ConfigurationError, match=r"points at v2, but its history says v1 .*moved outside driftloop"):
        promote(dataset=dataset.name, challenger_version=second)


def test_a_rejection_decided_again_by_a_retry_is_recorded_and_announced_once(dataset: DatasetConfig) -> None:
    land(dataset, 4)
    assert promote(dataset=dataset.name, challenger_version=train(dataset=dataset.name)).promoted
    tie = judge.fn(dataset, train(dataset=dataset.name))  # the same window again: a tie, so a rejection
    assert tie.outcome == "rejected"

    @flow
    def decided_twice() -> tuple[PromotionDecision, PromotionDecision]:
        # one flow run, two attempts of the task: what a retry after a failure past the history write does
        return apply_decision(dataset, tie), apply_decision(dataset, tie)

    first, again = decided_twice()
    assert first.record is not None and again.record == first.record
    assert [(r.sequence, r.action) for r in read_log(dataset)] == [(1, "promote"), (2, "reject")]


def test_slice_gates_judge_each_region_and_a_rejection_names_the_slice(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    # an impossible floor for one column's slices: every judged region fails it, by name and number
    cfg = promotion_policy(slice_columns=["region", "no_such_column"], min_slice_rows=100, min_slice_auc=0.99)
    decision = promote(dataset=cfg.name, challenger_version=version)
    assert decision.outcome == "rejected"
    regions = sorted(g.gate.removeprefix("slice-auc region=") for g in decision.gates if g.gate.startswith("slice-auc"))
    assert regions == sorted(REGION), regions
    assert all(reason.startswith("slice-auc region=") for reason in decision.reasons)
    assert not any("no_such_column" in g.gate for g in decision.gates)  # a column the dataset lacks is not judged
    table = Artifact.get(artifact_key("promotion", cfg.name))
    assert table is not None and "slice-auc region=" in str(table.data)


def test_the_sensitive_column_is_judged_by_the_fairness_gates_and_never_learned_from(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    land(dataset, 4)
    version = train(dataset=dataset.name)
    assert load_model(dataset, version).booster.num_feature() == len(dataset.columns.features)
    assert "applicant_sex" not in dataset.columns.features

    # a limit no model meets: rejected, with the number (at 0.2, the score at which a lender would decline)
    fairness = {"slice_columns": ["applicant_sex"], "decision_threshold": 0.2}
    cfg = promotion_policy(**fairness, max_parity_difference=0.0)
    strict = promote(dataset=cfg.name, challenger_version=version)
    assert strict.outcome == "rejected" and len(strict.reasons) == 1, strict.reasons
    assert strict.reasons[0].startswith("parity applicant_sex: demographic-parity difference 0.0")
    assert "(positive share at 0.2: F 0." in strict.reasons[0]

    # the demo's limits: promoted, and the gate table holds every group's numbers
    cfg = promotion_policy(**fairness, max_parity_difference=0.1, max_equalized_odds_difference=0.15)
    decision = promote(dataset=cfg.name, challenger_version=version)
    assert decision.promoted, decision.reasons
    gates = {g.gate: g for g in decision.gates}
    assert {"slice-auc applicant_sex=F", "slice-auc applicant_sex=M"} <= set(gates)
    assert 0 < gates["parity applicant_sex"].value <= 0.1 and 0 < gates["equalized-odds applicant_sex"].value <= 0.15
