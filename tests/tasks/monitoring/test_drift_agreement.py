"""The fast engine and Evidently's DataDriftPreset agree per column over the simulator's scenarios.

Both run on the same full frames with the default policy's methods and thresholds (normalised Wasserstein for
numeric columns, Jensen-Shannon for categorical ones), so their scores are the same statistic computed two ways;
each method's threshold reaches Evidently as the threshold of the column kind that uses it.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from blocks.models import DriftPolicy
from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.data.simulate import EPOCH, plan_batches
from tasks.monitoring.drift import DriftVerdict, check_drift, fit_profile
from tasks.monitoring.report import EvidentlyReport, bounded_sample, evidently_drift
from tasks.platform.contract import Columns, columns_of

ROWS = 4000
SCENARIOS = [("baseline", 2), ("covariate_shift_sudden", 1), ("covariate_shift_gradual", 4), ("concept_drift", 1)]


@pytest.fixture(scope="module")
def columns() -> Columns:
    return columns_of(demo_dataset())


@pytest.fixture(scope="module")
def comparisons(columns: Columns) -> list[tuple[str, DriftVerdict, EvidentlyReport]]:
    policy = DriftPolicy()
    reference = generate(ROWS, seed=11, start=EPOCH)
    profile = fit_profile(reference, columns)
    results = []
    for scenario, batches in SCENARIOS:
        for plan in plan_batches(scenario, batches, seed=7, first_day=1):  # type: ignore[arg-type]
            current = generate(
                ROWS, plan.seed, EPOCH + timedelta(days=plan.day), shift=plan.shift, concept=plan.concept
            )
            name = f"{scenario}/{plan.shift:.2f}"
            results.append(
                (name, check_drift(current, profile, policy), evidently_drift(reference, current, columns, policy))
            )
    return results


def test_per_column_verdicts_agree_on_at_least_95_percent(
    comparisons: list[tuple[str, DriftVerdict, EvidentlyReport]],
) -> None:
    agreed, total, disagreements = 0, 0, []
    for name, verdict, report in comparisons:
        theirs = {c.column: c for c in report.columns}
        assert set(theirs) == {c.column for c in verdict.columns}  # ids, times and the target stay out
        for ours in verdict.columns:
            total += 1
            if ours.drifted == theirs[ours.column].drifted:
                agreed += 1
            else:
                disagreements.append((name, ours.column, ours.score, theirs[ours.column].score))
    print(f"agreement {agreed}/{total}; disagreements: {disagreements}")
    assert agreed / total >= 0.95, disagreements


def test_scores_are_the_same_statistic(comparisons: list[tuple[str, DriftVerdict, EvidentlyReport]]) -> None:
    for _, verdict, report in comparisons:
        theirs = {c.column: c for c in report.columns}
        for ours in verdict.columns:
            assert ours.method == theirs[ours.column].method
            assert ours.threshold == theirs[ours.column].threshold
            assert ours.score == pytest.approx(theirs[ours.column].score, rel=0.05, abs=0.005), ours.column


def test_both_engines_are_quiet_on_baseline_and_loud_on_sudden_shift(
    comparisons: list[tuple[str, DriftVerdict, EvidentlyReport]],
) -> None:
    policy = DriftPolicy()
    for name, verdict, report in comparisons:
        if name.startswith("baseline"):
            assert not verdict.drifted and report.drift_share == 0.0
        if name.startswith("covariate_shift_sudden"):
            assert verdict.drifted and report.drift_share >= policy.drift_share


@pytest.mark.parametrize(
    "policy",
    [
        DriftPolicy(numeric_method="psi", categorical_method="psi", psi_threshold=0.15, wasserstein_threshold=0.3),
        DriftPolicy(wasserstein_threshold=0.12, jensenshannon_threshold=0.07, psi_threshold=0.5),
    ],
)
def test_evidently_gets_each_method_s_own_threshold(columns: Columns, policy: DriftPolicy) -> None:
    reference, current = generate(1000, seed=21, start=EPOCH), generate(1000, seed=22, start=EPOCH, shift=1.0)

    verdict = check_drift(current, fit_profile(reference, columns), policy)
    report = evidently_drift(reference, current, columns, policy)

    ours = {c.column: (c.method, c.threshold) for c in verdict.columns}
    theirs = {c.column: (c.method, c.threshold) for c in report.columns}
    assert ours == theirs
    assert {threshold for _, threshold in ours.values()} == {
        policy.method_threshold(policy.numeric_method),
        policy.method_threshold(policy.categorical_method),
    }


def test_report_sample_is_bounded_and_seeded(columns: Columns) -> None:
    frame = generate(3000, seed=1, start=EPOCH)
    assert bounded_sample(frame, 500).equals(bounded_sample(frame, 500))
    assert bounded_sample(frame, 500).height == 500
    assert bounded_sample(frame, 5000).height == 3000
    assert isinstance(bounded_sample(frame, 500), pl.DataFrame)
