"""The simulator: deterministic plans, every defect breaks the contract as named, landing never overwrites."""

from __future__ import annotations

from typing import get_args

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from blocks.register import demo_dataset
from flows.simulate import simulate
from tasks.contracts.credit import CreditApplication
from tasks.data.conformance import conform
from tasks.data.ingest import parse_object
from tasks.data.simulate import DEFECTS, Scenario, generator_for, plan_batches, render_batch
from tasks.data.steps.simulate import put_landed
from tasks.platform.config import DatasetConfig
from tasks.platform.contract import columns_of
from tasks.platform.errors import ConfigurationError, ContractViolation
from tasks.platform.events import BATCH_LANDED

COLUMNS = columns_of(demo_dataset())
GENERATE = generator_for(demo_dataset().contract)


def test_gradual_shift_rises_to_full_and_sudden_is_full_throughout() -> None:
    gradual = plan_batches("covariate_shift_gradual", 4, seed=1, first_day=10)
    assert [p.shift for p in gradual] == [0.25, 0.5, 0.75, 1.0]
    assert [p.day for p in gradual] == [10, 11, 12, 13]
    assert {p.shift for p in plan_batches("covariate_shift_sudden", 3, 1, 0)} == {1.0}
    concept = plan_batches("concept_drift", 2, 1, 0)
    assert all(p.concept and p.shift == 0 for p in concept)


def test_defects_cycle_by_batch_index_and_keys_are_deterministic() -> None:
    plans = plan_batches("quality_issue", 4, seed=7, first_day=0)
    assert [p.defect for p in plans] == ["null_spike", "out_of_range", "duplicate_ids", "null_spike"]
    assert [p.name for p in plans] == [f"quality_issue-s7-d{d}.parquet" for d in range(4)]
    assert plans == plan_batches("quality_issue", 4, seed=7, first_day=0)
    assert len({p.seed for p in plans}) == 4


def test_zero_batches_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="at least 1"):
        plan_batches("baseline", 0, 0, 0)


def test_a_contract_module_without_generate_cannot_be_simulated() -> None:
    with pytest.raises(ConfigurationError, match="no generate"):
        generator_for("tasks.platform.contract:Columns")


def test_the_same_seed_renders_the_same_bytes_and_baseline_is_valid() -> None:
    plan = plan_batches("baseline", 1, 3, 0)[0]
    body = render_batch(GENERATE, plan, 300, CreditApplication, COLUMNS)
    assert body == render_batch(GENERATE, plan, 300, CreditApplication, COLUMNS)
    assert conform(parse_object("x.parquet", body), CreditApplication).height == 300


@pytest.mark.parametrize(
    ("defect", "check"),
    [
        ("missing_column", "column_in_dataframe"),
        ("renamed_column", "column_in_schema"),
        ("wrong_type", "coerce_dtype"),
        ("null_spike", "not_nullable"),
        ("out_of_range", "greater_than_or_equal_to"),
        ("duplicate_ids", "field_uniqueness"),
    ],
)
def test_every_defect_breaks_the_contract_with_a_named_check(defect: str, check: str) -> None:
    scenario = next(s for s, variants in DEFECTS.items() if defect in variants)
    index = DEFECTS[scenario].index(defect)
    plan = plan_batches(scenario, index + 1, 0, 0)[index]  # type: ignore[arg-type]
    frame = parse_object("x.parquet", render_batch(GENERATE, plan, 200, CreditApplication, COLUMNS))
    with pytest.raises(ContractViolation) as caught:
        conform(frame, CreditApplication)
    assert any(check in str(c["check"]) for c in caught.value.summary["checks"]), caught.value.summary["checks"]


def test_corrupt_variants_are_truncated_or_empty() -> None:
    truncated, empty = plan_batches("corrupt_file", 2, 0, 0)
    full = render_batch(GENERATE, plan_batches("baseline", 1, 0, 0)[0], 200, CreditApplication, COLUMNS)
    assert 0 < len(render_batch(GENERATE, truncated, 200, CreditApplication, COLUMNS)) < len(full)
    assert render_batch(GENERATE, empty, 200, CreditApplication, COLUMNS) == b""


@pytest.mark.integration
def test_every_scenario_lands_objects_and_announces_them(dataset: DatasetConfig) -> None:
    landed = {s: simulate(dataset=dataset.name, scenario=s, batches=2, rows=200) for s in get_args(Scenario)}
    assert all(len(keys) == 2 for keys in landed.values())
    assert landed["baseline"] == [f"landing/{dataset.name}/baseline-s0-d{d}.parquet" for d in (0, 1)]
    stored = dataset.store.list_keys(f"landing/{dataset.name}/")
    assert sorted(k for keys in landed.values() for k in keys) == stored
    assert simulate(dataset=dataset.name, scenario="baseline", batches=2, rows=200) == landed["baseline"]  # rerun ok
    events = _poll_landed_events(dataset.name, expected=len(stored))
    assert {e.payload["key"] for e in events} == set(stored)
    assert all(e.payload["dataset"] == dataset.name and e.payload["scenario"] for e in events)


@pytest.mark.integration
def test_landing_refuses_different_bytes_under_a_used_key(dataset: DatasetConfig) -> None:
    key = f"landing/{dataset.name}/taken.parquet"
    put_landed.fn(dataset.store, key, b"first")
    put_landed.fn(dataset.store, key, b"first")
    with pytest.raises(ConfigurationError, match="different bytes"):
        put_landed.fn(dataset.store, key, b"second")
    assert dataset.store.get(key) == b"first"


def _poll_landed_events(name: str, expected: int) -> list:  # type: ignore[type-arg]
    import time

    deadline = time.monotonic() + 20
    events: list = []  # type: ignore[type-arg]
    event_filter = EventFilter(
        event=EventNameFilter(name=[BATCH_LANDED]),
        resource=EventResourceFilter(id_prefix=[f"driftloop.batch.{name}."]),
    )
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=50).events
        if len({e.payload["key"] for e in events}) >= expected:
            break
        time.sleep(1)
    return events


def test_a_segment_anomaly_is_one_segment_of_valid_rows() -> None:
    plan = plan_batches("segment_anomaly", 1, seed=3, first_day=0)[0]
    body = render_batch(GENERATE, plan, 500, CreditApplication, COLUMNS)
    frame = conform(parse_object("x.parquet", body), CreditApplication)
    assert frame.height == 500 and frame["age"].max() < 32  # type: ignore[operator]
    assert set(frame["region"]) == {"west"} and set(frame["loan_purpose"]) == {"business"}


def generate_without_a_segment_rule(*args: object, **kwargs: object) -> object:
    return GENERATE(*args, **kwargs)  # this test module defines no `segment`: the simulator picks one itself


def test_without_a_segment_rule_the_commonest_combination_of_the_widest_categories_is_the_segment() -> None:
    plan = plan_batches("segment_anomaly", 1, seed=3, first_day=0)[0]
    body = render_batch(generate_without_a_segment_rule, plan, 300, CreditApplication, COLUMNS)  # type: ignore[arg-type]
    frame = parse_object("x.parquet", body)
    assert frame.height == 300 and frame["loan_purpose"].n_unique() == 1 and frame["region"].n_unique() == 1
