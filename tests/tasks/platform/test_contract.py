"""The demo contract accepts what the generator makes and names every failure in what it should reject."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from blocks.register import demo_dataset
from tasks.contracts.credit import CreditApplication, generate
from tasks.platform.contract import columns_of, load_contract, validate
from tasks.platform.errors import ConfigurationError, ContractViolation

START = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)


def test_generated_batch_passes_the_contract() -> None:
    frame = generate(2000, seed=1, start=START)
    assert validate(frame, CreditApplication).height == 2000


def test_generator_is_deterministic_by_seed() -> None:
    assert generate(500, seed=7, start=START).equals(generate(500, seed=7, start=START))
    assert not generate(500, seed=7, start=START).equals(generate(500, seed=8, start=START))


def test_shift_moves_marginals() -> None:
    base = generate(5000, seed=1, start=START)["credit_score"].mean()
    shifted = generate(5000, seed=1, start=START, shift=1.0)["credit_score"].mean()
    assert isinstance(base, float) and isinstance(shifted, float)
    assert base - shifted > 40


def test_violations_are_collected_with_counts() -> None:
    frame = generate(1000, seed=2, start=START).with_columns(
        pl.when(pl.int_range(pl.len()) < 30).then(-5).otherwise(pl.col("age")).alias("age"),
        pl.when(pl.int_range(pl.len()) < 4).then(pl.lit("MARS")).otherwise(pl.col("region")).alias("region"),
    )
    with pytest.raises(ContractViolation) as caught:
        validate(frame, CreditApplication)
    counts = {(c["column"], c["check"]): c["count"] for c in caught.value.summary["checks"]}
    assert counts[("age", "greater_than_or_equal_to(18)")] == 30
    assert any(col == "region" and n == 4 for (col, _), n in counts.items())
    assert len(caught.value.summary["samples"]) <= 20


def test_columns_come_from_the_contract() -> None:
    cols = columns_of(demo_dataset())
    assert "defaulted" not in cols.features and "application_id" not in cols.features
    assert set(cols.categorical) == {"home_ownership", "loan_purpose", "region", "has_cosigner"}
    assert "credit_score" in cols.numeric


def test_a_sensitive_column_is_never_a_feature_and_must_be_declared() -> None:
    spec = demo_dataset()
    assert "applicant_sex" not in columns_of(spec).features  # the demo's protected attribute: judged, not learned
    spec.sensitive_columns = []
    assert "applicant_sex" in columns_of(spec).features  # it is only the list's doing
    spec.sensitive_columns = ["religion"]
    with pytest.raises(ConfigurationError, match="religion"):
        columns_of(spec)


def test_the_sensitive_column_is_optional_checked_where_present_and_independent_of_the_rest() -> None:
    frame = generate(2000, seed=3, start=START)
    assert set(frame["applicant_sex"].unique()) == {"F", "M"}
    assert validate(frame.drop("applicant_sex"), CreditApplication).height == 2000  # batches from before it
    with pytest.raises(ContractViolation, match="applicant_sex"):
        validate(frame.with_columns(pl.lit("X").alias("applicant_sex")), CreditApplication)
    low_income = frame["annual_income"].fill_null(58_000) < 40_000
    female_share = frame.group_by(low_income.alias("low")).agg((pl.col("applicant_sex") == "F").mean())
    shares = dict(female_share.iter_rows())
    assert 0.02 < shares[True] - shares[False] < 0.2  # a little more often "F" among lower incomes, by design


def test_unknown_contract_path_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="cannot import contract"):
        load_contract("tasks.contracts.nope:Missing")
