"""The fast drift engine on generated credit batches: quiet on baseline, loud on shift, concept drift via AUC, a
column gone null; and the performance rule's error rates on simulated labelled batches."""

from __future__ import annotations

from datetime import datetime
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest
import scipy.stats

from blocks.models import DriftPolicy
from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.model.metrics import roc_auc, roc_auc_delong
from tasks.monitoring import stats as drift_stats
from tasks.monitoring.drift import DriftProfile, DriftVerdict, check_drift, fit_profile
from tasks.monitoring.models import ColumnDrift, Performance
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
    policy = DriftPolicy(numeric_method=method)
    verdict = check_drift(generate(ROWS, seed=3, start=START, shift=1.0), profile, policy)

    assert verdict.drifted
    assert {"credit_score", "interest_rate", "revolving_utilization", "num_inquiries_6m"} <= set(
        verdict.drifted_columns
    )
    # Columns the recession does not move stay quiet.
    assert not {"num_open_accounts", "loan_term_months", "region", "has_cosigner"} & set(verdict.drifted_columns)
    assert verdict.drift_share >= policy.drift_share
    assert all(c.method == method and c.threshold == threshold for c in verdict.columns if c.kind == "numeric")


@pytest.mark.parametrize(
    ("policy", "numeric", "categorical"),
    [
        # Each method's own threshold applies, whichever kind of column uses it; the others are ignored.
        (
            DriftPolicy(numeric_method="psi", categorical_method="psi", psi_threshold=0.15, wasserstein_threshold=9.0),
            ("psi", 0.15),
            ("psi", 0.15),
        ),
        (
            DriftPolicy(wasserstein_threshold=9.0, jensenshannon_threshold=0.05, psi_threshold=0.01),
            ("wasserstein", 9.0),
            ("jensenshannon", 0.05),
        ),
    ],
)
def test_each_method_has_its_own_threshold(
    profile: DriftProfile, policy: DriftPolicy, numeric: tuple[str, float], categorical: tuple[str, float]
) -> None:
    verdict = check_drift(generate(ROWS, seed=3, start=START, shift=1.0), profile, policy)
    by_column = {c.column: c for c in verdict.columns}

    for column in verdict.columns:
        assert (column.method, column.threshold) == (numeric if column.kind == "numeric" else categorical)
        assert column.drifted == (column.score >= column.threshold)  # no null-share rises here
    # credit_score moves by PSI ~1.1 and Wasserstein ~1.1: drifted at 0.15, quiet at 9.0.
    assert by_column["credit_score"].drifted == (numeric[1] < 1.0)


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
    performance = verdict.performance
    assert performance is not None and performance.drifted and not performance.inconclusive
    assert performance.drop is not None and performance.drop >= 0.05
    assert performance.drop_lower_bound is not None and performance.drop_lower_bound > DriftPolicy().performance_drop
    assert verdict.drifted
    assert any(reason.startswith("ROC AUC") for reason in verdict.reasons)


def test_unlabelled_batch_has_no_performance_verdict(reference: pl.DataFrame, columns: Columns) -> None:
    profile = fit_profile(reference, columns, predictions=risk_score(reference), reference_auc=0.8)
    current = generate(ROWS, seed=5, start=START)
    labels = np.full(current.height, np.nan)

    verdict = check_drift(current, profile, DriftPolicy(), predictions=risk_score(current), labels=labels)

    assert verdict.performance is not None
    assert verdict.performance.current_auc is None and not verdict.performance.drifted
    assert verdict.performance.inconclusive and verdict.performance.labelled_rows == 0
    assert not verdict.drifted


def with_nulls(frame: pl.DataFrame, column: str, every: int) -> pl.DataFrame:
    """`column` null on every `every`-th row (1: all of them)."""
    missing = pl.int_range(pl.len()) % every == 0
    return frame.with_columns(pl.when(missing).then(None).otherwise(pl.col(column)).alias(column))


def test_a_column_gone_null_is_drift_with_the_reason(profile: DriftProfile) -> None:
    current = generate(ROWS, seed=6, start=START)
    for column in ("debt_to_income", "loan_purpose"):  # a numeric and a categorical column
        current = with_nulls(current, column, every=1)

    verdict = check_drift(current, profile, DriftPolicy())
    by_column = {c.column: c for c in verdict.columns}

    assert verdict.drifted
    for column in ("debt_to_income", "loan_purpose"):
        emptied = by_column[column]
        assert emptied.null_share_current == 1.0
        assert emptied.drifted and emptied.null_share_drifted
    assert "debt_to_income: 100% null (reference 2%)" in verdict.reasons
    assert "loan_purpose: 100% null (reference 0%)" in verdict.reasons
    assert set(verdict.drifted_columns) == {"debt_to_income", "loan_purpose"}  # 2 of 17: below drift_share
    assert not any("of features drifted" in reason for reason in verdict.reasons)


def test_nulls_are_excluded_from_the_distance_and_judged_by_their_share(profile: DriftProfile) -> None:
    current = with_nulls(with_nulls(generate(ROWS, seed=6, start=START), "annual_income", 2), "employment_years", 10)

    by_column = {c.column: c for c in check_drift(current, profile, DriftPolicy()).columns}

    income = by_column["annual_income"]
    assert income.null_share_current == pytest.approx(0.5, abs=0.03)
    assert 0.02 < income.null_share_reference < 0.06
    assert income.score < income.threshold  # the non-null values keep the reference distribution...
    assert income.drifted and income.null_share_drifted  # ...but +46% nulls is more than null_share_increase 0.2
    employment = by_column["employment_years"]  # about 6% -> 15%: within the allowed rise
    assert employment.null_share_current - employment.null_share_reference == pytest.approx(0.09, abs=0.02)
    assert not employment.drifted and not employment.null_share_drifted


def test_the_null_share_threshold_is_the_policy_s_but_a_column_gone_null_always_drifts(profile: DriftProfile) -> None:
    current = with_nulls(with_nulls(generate(ROWS, seed=6, start=START), "annual_income", 2), "debt_to_income", 1)

    verdict = check_drift(current, profile, DriftPolicy(null_share_increase=0.99))
    by_column = {c.column: c for c in verdict.columns}

    assert not by_column["annual_income"].drifted
    assert by_column["debt_to_income"].drifted and by_column["debt_to_income"].null_share_drifted
    assert verdict.reasons == ["debt_to_income: 100% null (reference 2%)"]


def test_an_empty_batch_is_not_read_as_all_null(profile: DriftProfile) -> None:
    verdict = check_drift(generate(ROWS, seed=6, start=START).head(0), profile, DriftPolicy())

    assert all(c.null_share_current == 0.0 and not c.drifted for c in verdict.columns)
    assert not verdict.drifted


def test_summaries_and_profiles_persisted_before_the_new_rules_still_load(profile: DriftProfile) -> None:
    column = {"column": "age", "kind": "numeric", "method": "wasserstein", "score": 0.01, "threshold": 0.1}
    old_column = column | {"drifted": False, "null_share_reference": 0.0, "null_share_current": 0.0}
    old_performance = {"labelled_rows": 10, "current_auc": None, "reference_auc": 0.8, "drop": None}

    assert not ColumnDrift.model_validate(old_column).null_share_drifted
    performance = Performance.model_validate(old_performance | {"threshold": 0.05, "drifted": False})
    assert performance.positives is None and performance.drop_lower_bound is None and not performance.inconclusive
    stored = profile.model_dump(mode="json")
    del stored["reference_auc_se"]
    assert DriftProfile.model_validate(stored).reference_auc_se is None


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


def test_delong_standard_error_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 400)
    scores = np.round(rng.random(400) + 0.4 * labels, 1)  # plenty of ties
    wins = (scores[labels == 1][:, None] > scores[labels == 0][None, :]) + 0.5 * (
        scores[labels == 1][:, None] == scores[labels == 0][None, :]
    )
    over_negatives, under_positives = wins.mean(axis=1), wins.mean(axis=0)
    pairwise_se = np.sqrt(
        over_negatives.var(ddof=1) / over_negatives.size + under_positives.var(ddof=1) / under_positives.size
    )

    estimate = roc_auc_delong(labels, scores)

    assert estimate is not None
    assert estimate.auc == pytest.approx(wins.mean()) == pytest.approx(roc_auc(labels, scores))
    assert estimate.standard_error == pytest.approx(pairwise_se)
    assert (estimate.positives, estimate.negatives) == (int(labels.sum()), int((labels == 0).sum()))
    assert roc_auc_delong(np.zeros(5), np.arange(5.0)) is None


# The performance rule on a fixed score model: positives score N(shift, 1) and negatives N(0, 1) before a sigmoid,
# so the AUC is exactly Phi(shift / sqrt 2) and only its estimate varies from batch to batch.
PREVALENCE = 0.15
STABLE_AUC = 0.80
DROP = 0.08


def labelled_scores(rng: np.random.Generator, rows: int, auc: float) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels) of `rows` rows, about PREVALENCE positive, whose population ROC AUC is `auc`."""
    labels = (rng.random(rows) < PREVALENCE).astype(np.float64)
    shift = np.sqrt(2) * NormalDist().inv_cdf(auc)
    return 1 / (1 + np.exp(-(rng.normal(0, 1, rows) + shift * labels))), labels


@pytest.fixture(scope="module")
def performance_profile() -> DriftProfile:
    """Only the performance rule: no feature columns; the reference AUC and its error from 20,000 labelled rows."""
    scores, labels = labelled_scores(np.random.default_rng(100), 20_000, STABLE_AUC)
    reference = roc_auc_delong(labels, scores)
    assert reference is not None
    return DriftProfile(rows=20_000, columns=[], reference_auc=reference.auc, reference_auc_se=reference.standard_error)


def check_performance(profile: DriftProfile, scores: np.ndarray, labels: np.ndarray, **policy: float) -> DriftVerdict:
    frame = pl.DataFrame({"prediction": scores})
    return check_drift(frame, profile, DriftPolicy(**policy), predictions=scores, labels=labels)


def test_stable_small_labelled_batches_rarely_alarm(performance_profile: DriftProfile) -> None:
    rng = np.random.default_rng(101)
    sizes = rng.integers(200, 501, 1000)
    scores, labels = labelled_scores(rng, int(sizes.sum()), STABLE_AUC)
    batches = zip(np.split(scores, np.cumsum(sizes)[:-1]), np.split(labels, np.cumsum(sizes)[:-1]), strict=True)

    results = [check_performance(performance_profile, s, y).performance for s, y in batches]

    performances = [p for p in results if p is not None]
    alarms = sum(p.drifted for p in performances)
    conclusive = [p for p in performances if not p.inconclusive]
    naive = sum(p.drop is not None and p.drop >= 0.05 for p in conclusive)  # the old rule: point estimate >= 0.05
    print(f"{alarms} alarms, {len(conclusive)} conclusive, {naive} point drops >= 0.05 of {len(performances)}")
    assert len(performances) == 1000
    assert alarms <= 10  # at most 1%
    assert len(conclusive) >= 900  # quiet because the bound holds, not because batches were set aside
    assert naive >= 50  # the noise the rule must see through


def test_a_real_auc_drop_of_0_08_on_2000_rows_is_caught(performance_profile: DriftProfile) -> None:
    rng = np.random.default_rng(102)
    scores, labels = labelled_scores(rng, 2000, STABLE_AUC - DROP)

    verdict = check_performance(performance_profile, scores, labels)

    performance = verdict.performance
    assert performance is not None and performance.drifted and not performance.inconclusive
    assert performance.drop is not None and performance.drop == pytest.approx(DROP, abs=0.03)
    assert performance.drop_lower_bound is not None and performance.drop_lower_bound > performance.threshold
    assert verdict.drifted and verdict.reasons[0].startswith("ROC AUC")
    assert f"at least {performance.drop_lower_bound:.3f} at 97.5% confidence" in verdict.reasons[0]
    # Not one lucky draw: the same drop is caught in nearly every such batch.
    caught = [
        check_performance(performance_profile, *labelled_scores(rng, 2000, STABLE_AUC - DROP)) for _ in range(200)
    ]
    assert sum(v.drifted for v in caught) >= 180


@pytest.mark.parametrize("scarce", [1.0, 0.0])
def test_too_few_positives_or_negatives_is_inconclusive(performance_profile: DriftProfile, scarce: float) -> None:
    rng = np.random.default_rng(103)
    labels = np.full(1000, 1.0 - scarce)
    labels[rng.choice(1000, 20, replace=False)] = scarce  # 20 of one class, below the default minimum of 30
    scores = rng.random(1000)  # a useless model: AUC ~0.5, a drop of ~0.3 that 20 cases cannot establish

    verdict = check_performance(performance_profile, scores, labels)

    performance = verdict.performance
    assert performance is not None and performance.inconclusive and not performance.drifted
    assert (performance.positives if scarce else performance.negatives) == 20
    assert performance.current_auc is not None and performance.drop is not None and performance.drop > 0.2
    assert not verdict.drifted and verdict.reasons == []
    # The minimum, not the bound, held it back: with lower minimums the same batch alarms.
    assert check_performance(performance_profile, scores, labels, min_positives=10, min_negatives=10).drifted
