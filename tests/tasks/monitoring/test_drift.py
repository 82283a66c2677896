"""The fast drift engine on generated credit batches: quiet on baseline, loud on shift, concept drift via AUC."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest
import scipy.stats

from blocks.models import DriftPolicy
from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.model.metrics import roc_auc
from tasks.monitoring import stats as drift_stats
from tasks.monitoring.drift import DriftProfile, check_drift, fit_profile
from tasks.platform.contract import Columns, columns_of

ROWS = 6000
START = datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def columns() -> Columns:
    return columns_of(demo_dataset())


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return generate(ROWS, seed=1, start=START)


@pytest.fixture(scope="module")
def profile(reference: pl.DataFrame, columns: Columns) -> DriftProfile:
    # Round-trip through JSON, as the profile travels with a model version.
    return DriftProfile.model_validate_json(fit_profile(reference, columns).model_dump_json())


def risk_score(frame: pl.DataFrame) -> np.ndarray:
    """A stand-in model that learned the baseline relation: low score and high utilisation default."""
    score = frame["credit_score"].cast(pl.Float64).to_numpy()
    utilisation = frame["revolving_utilization"].to_numpy()
    return 1 / (1 + np.exp((score - 690) / 55 - 1.4 * utilisation))


def test_baseline_batch_is_quiet(profile: DriftProfile) -> None:
    verdict = check_drift(generate(ROWS, seed=2, start=START), profile, DriftPolicy())

    assert not verdict.drifted
    assert verdict.drifted_columns == []
    assert verdict.reasons == []
    assert max(c.score for c in verdict.columns) < 0.06


def test_profile_covers_every_feature(profile: DriftProfile, columns: Columns) -> None:
    assert [p.column for p in profile.columns] == list(columns.features)
    numeric = next(p for p in profile.columns if p.column == "credit_score")
    assert len(numeric.bin_proportions) == len(numeric.bin_edges) + 1 == 10
    assert sum(numeric.bin_proportions) == pytest.approx(1.0)
    region = next(p for p in profile.columns if p.column == "region")
    assert len(region.proportions) == len(region.categories) + 1  # the "other/unseen" bucket
    assert region.proportions[-1] == 0.0


@pytest.mark.parametrize(("method", "threshold"), [("wasserstein", 0.1), ("psi", 0.2)])
def test_sudden_shift_drifts_on_the_shifted_columns(profile: DriftProfile, method: str, threshold: float) -> None:
    policy = DriftPolicy(numeric_method=method, numeric_threshold=threshold)
    verdict = check_drift(generate(ROWS, seed=3, start=START, shift=1.0), profile, policy)

    assert verdict.drifted
    assert {"credit_score", "interest_rate", "revolving_utilization", "num_inquiries_6m"} <= set(
        verdict.drifted_columns
    )
    # Columns the recession does not move stay quiet.
    assert not {"num_open_accounts", "loan_term_months", "region", "has_cosigner"} & set(verdict.drifted_columns)
    assert verdict.drift_share >= policy.drift_share
    assert all(c.method == method for c in verdict.columns if c.kind == "numeric")


def test_concept_drift_is_caught_by_performance_not_by_marginals(reference: pl.DataFrame, columns: Columns) -> None:
    labels = reference["defaulted"].to_numpy()
    reference_auc = roc_auc(labels, risk_score(reference))
    profile = fit_profile(reference, columns, predictions=risk_score(reference), reference_auc=reference_auc)
    current = generate(ROWS, seed=4, start=START, concept=True)

    verdict = check_drift(
        current,
        profile,
        DriftPolicy(),
        predictions=risk_score(current),
        labels=current["defaulted"].cast(pl.Float64).to_numpy(),
    )

    assert verdict.drifted_columns == []
    assert verdict.prediction is not None and not verdict.prediction.drifted
    assert verdict.performance is not None and verdict.performance.drifted
    assert verdict.performance.drop is not None and verdict.performance.drop >= 0.05
    assert verdict.drifted
    assert any("ROC AUC" in reason for reason in verdict.reasons)


def test_unlabelled_batch_has_no_performance_verdict(reference: pl.DataFrame, columns: Columns) -> None:
    profile = fit_profile(reference, columns, predictions=risk_score(reference), reference_auc=0.8)
    current = generate(ROWS, seed=5, start=START)
    labels = np.full(current.height, np.nan)

    verdict = check_drift(current, profile, DriftPolicy(), predictions=risk_score(current), labels=labels)

    assert verdict.performance is not None
    assert verdict.performance.current_auc is None and not verdict.performance.drifted
    assert not verdict.drifted


def test_nulls_are_excluded_and_reported(profile: DriftProfile) -> None:
    current = generate(ROWS, seed=6, start=START).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("annual_income")).alias("annual_income"),
        pl.lit(None, dtype=pl.Float64).alias("debt_to_income"),
        pl.lit(None, dtype=pl.String).alias("loan_purpose"),
    )

    verdict = check_drift(current, profile, DriftPolicy())
    by_column = {c.column: c for c in verdict.columns}

    income = by_column["annual_income"]
    assert income.null_share_current == pytest.approx(0.5, abs=0.03)
    assert 0.02 < income.null_share_reference < 0.06
    assert not income.drifted  # the non-null values keep the reference distribution
    assert by_column["debt_to_income"].null_share_current == 1.0
    assert by_column["debt_to_income"].score == 0.0
    assert by_column["loan_purpose"].null_share_current == 1.0


def test_unseen_category_lands_in_the_other_bucket(profile: DriftProfile) -> None:
    current = generate(ROWS, seed=7, start=START).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("mars")).otherwise(pl.col("region")).alias("region")
    )

    verdict = check_drift(current, profile, DriftPolicy())
    region = next(c for c in verdict.columns if c.column == "region")

    assert region.drifted
    assert region.method == "jensenshannon"
    assert 0.2 < region.score < 0.5


def test_wasserstein_matches_the_exact_distance() -> None:
    rng = np.random.default_rng(0)
    for reference, current in [
        (rng.lognormal(10, 0.6, 20_000), rng.lognormal(10.2, 0.6, 20_000)),
        (rng.poisson(2.0, 20_000).astype(float), rng.poisson(2.6, 20_000).astype(float)),
        (rng.normal(0, 1, 20_000), rng.normal(3, 2, 20_000)),  # mostly outside the reference range
        # counts whose tail values are each rarer than one grid step: every distinct value must stay a grid point
        (rng.geometric(0.6, 100_000).astype(float), rng.geometric(0.35, 100_000).astype(float)),
    ]:
        exact = scipy.stats.wasserstein_distance(reference, current) / np.std(reference)
        _, approximate = drift_stats.numeric_distances(current, drift_stats.fit_numeric(reference))
        assert approximate == pytest.approx(exact, rel=0.02)


def test_roc_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # rounded: plenty of ties
    positives, negatives = scores[labels == 1], scores[labels == 0]
    pairwise = np.mean((positives[:, None] > negatives[None, :]) + 0.5 * (positives[:, None] == negatives[None, :]))

    assert roc_auc(labels, scores) == pytest.approx(pairwise)
    assert roc_auc(np.ones(10), np.arange(10.0)) is None
