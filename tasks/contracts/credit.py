"""The demo dataset: consumer credit applications with a binary `defaulted` target.

`CreditApplication` is the contract; `generate` makes realistic batches of it, deterministically by seed, with two
knobs for the simulator: `shift` (a recession: 0 = none, 1 = full; it moves the marginals and, as real recessions
do, who defaults) and `concept` (the relation between features and default changes while the marginals stay the same).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandera.polars as pa
import polars as pl

HOME_OWNERSHIP = ["RENT", "OWN", "MORTGAGE", "OTHER"]
LOAN_PURPOSE = [
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "business",
    "other",
]
REGION = ["north", "south", "east", "west", "central"]
SEX = ["F", "M"]
CONTRACT_VERSION = "credit-v1"


class CreditApplication(pa.DataFrameModel):
    """One row per loan application; `defaulted` is null until the outcome is known."""

    application_id: str = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64})
    applied_at: pl.Datetime = pa.Field(nullable=False)
    age: pl.Int64 = pa.Field(ge=18, le=100)
    annual_income: float = pa.Field(gt=0, le=5_000_000, nullable=True)
    loan_amount: float = pa.Field(ge=500, le=500_000)
    loan_term_months: pl.Int64 = pa.Field(isin=[12, 24, 36, 48, 60])
    interest_rate: float = pa.Field(ge=0, le=40)
    debt_to_income: float = pa.Field(ge=0, le=3, nullable=True)
    credit_score: pl.Int64 = pa.Field(ge=300, le=850)
    num_open_accounts: pl.Int64 = pa.Field(ge=0, le=80)
    num_delinquencies: pl.Int64 = pa.Field(ge=0, le=50)
    credit_history_years: float = pa.Field(ge=0, le=85)
    employment_years: float = pa.Field(ge=0, le=65, nullable=True)
    revolving_utilization: float = pa.Field(ge=0, le=2)
    num_inquiries_6m: pl.Int64 = pa.Field(ge=0, le=40)
    home_ownership: str = pa.Field(isin=HOME_OWNERSHIP)
    loan_purpose: str = pa.Field(isin=LOAN_PURPOSE)
    region: str = pa.Field(isin=REGION)
    has_cosigner: bool = pa.Field()
    # A protected attribute: the demo dataset block lists it in `sensitive_columns`, so no model learns from it and the
    # fairness gates judge decisions by it. Optional: batches from before it was collected stay valid.
    applicant_sex: str | None = pa.Field(isin=SEX, nullable=True)
    defaulted: pl.Int64 = pa.Field(isin=[0, 1], nullable=True)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="credit history cannot start before age 14")
    def history_fits_age(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("credit_history_years") <= pl.col("age") - 14 + 1e-9)


def generate(n: int, seed: int, start: datetime, shift: float = 0.0, concept: bool = False) -> pl.DataFrame:
    """Return `n` applications drawn with `seed`; `shift` moves the marginals, `concept` the default relation."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41 - 6 * shift, 12, n), 18, 90).round().astype(np.int64)
    income = np.clip(rng.lognormal(np.log(58_000) - 0.35 * shift, 0.55, n), 5_000, 2_000_000)
    score = np.clip(rng.normal(690 - 70 * shift, 65, n), 300, 850).round().astype(np.int64)
    utilization = np.clip(rng.beta(2 + 2.5 * shift, 5 - 1.5 * shift, n) * 1.2, 0, 2)
    dti = np.clip(rng.gamma(2.2 + 1.2 * shift, 0.12, n), 0, 3)
    history = np.minimum(np.clip(rng.gamma(3, 3.5, n), 0, 60), age - 14)
    employment = np.clip(rng.exponential(6 - 2 * shift, n), 0, 60)
    delinquencies = rng.poisson(0.4 + 0.8 * shift, n)
    inquiries = rng.poisson(1.2 + 2.0 * shift, n)
    loan = np.clip(rng.lognormal(np.log(15_000) + 0.2 * shift, 0.7, n), 500, 400_000)
    rate = np.clip(4 + (850 - score) / 25 + rng.normal(2 * shift, 1.5, n), 1, 39)
    purpose = rng.choice(len(LOAN_PURPOSE), n, p=_purpose_mix(shift))
    cosigner = rng.random(n) < 0.12
    home_ownership = rng.choice(4, n, p=[0.38, 0.14, 0.45, 0.03])
    logit = (
        -2.2
        - (score - 690) / 55
        + 1.6 * (dti - 0.26) / 0.2 * 0.35
        + 1.4 * (utilization - 0.34)
        + 0.35 * delinquencies
        + 0.12 * inquiries
        - 0.45 * (np.log(income) - np.log(58_000))
        + 0.06 * (rate - 10)
        + 0.5 * (purpose == LOAN_PURPOSE.index("business"))
        - 0.6 * cosigner
        + 0.8 * (utilization > 0.9)
        # A recession changes who defaults as well as who applies: short employment and high DTI start to bite.
        + shift * (1.8 * (employment < 2) + 2.5 * (dti - 0.6) - 0.8 * (home_ownership == 1) - 1.6)
    )
    if concept:  # the same applicants, a different world: score and utilization stop mattering, income takes over
        logit = -2.2 + 2.2 * (0.3 - (np.log(income) - np.log(58_000))) + 1.5 * (employment < 2) - 0.6 * cosigner
    defaulted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame(
        {
            "application_id": [f"app-{seed}-{i:07d}" for i in range(n)],
            "applied_at": [start + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86_400, n))],
            "age": age,
            "annual_income": _with_missing(rng, income.round(2), 0.04),
            "loan_amount": loan.round(2),
            "loan_term_months": rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.4, 0.1, 0.2]),
            "interest_rate": rate.round(2),
            "debt_to_income": _with_missing(rng, dti.round(4), 0.02),
            "credit_score": score,
            "num_open_accounts": rng.poisson(9, n),
            "num_delinquencies": delinquencies,
            "credit_history_years": history.round(2),
            "employment_years": _with_missing(rng, employment.round(1), 0.06),
            "revolving_utilization": utilization.round(4),
            "num_inquiries_6m": inquiries,
            "home_ownership": [HOME_OWNERSHIP[i] for i in home_ownership],
            "loan_purpose": [LOAN_PURPOSE[i] for i in purpose],
            "region": [REGION[i] for i in rng.choice(5, n)],
            "has_cosigner": cosigner,
            "defaulted": defaulted,
            "applicant_sex": _sex(seed, income),
        }
    )


def _sex(seed: int, income: np.ndarray) -> list[str]:
    """Drawn from a stream of its own (every other column keeps its values), and a little less often "F" among higher
    incomes, as in many real loan books: a model that never sees it can still decide differently by it, through
    income. That is what the fairness gates are for."""
    rng = np.random.default_rng([seed, len(SEX)])
    female = rng.random(income.size) < 0.5 - 0.08 * np.tanh(np.log(income / 58_000))
    return [SEX[0] if f else SEX[1] for f in female]


def segment(frame: pl.DataFrame) -> pl.DataFrame:
    """One segment of the applicants, as an upstream export ordered by region and purpose would deliver it (for
    simulate's `segment_anomaly`): young renters' business loans in the west. Region, purpose and home ownership are
    drawn independently of everything else here, so setting them keeps the rows as plausible as filtering on them
    would, without drawing a hundred times more. Five columns drift; the labels are not those of a worse population,
    so the model's AUC on them holds."""
    young = frame.filter(pl.col("age") < 32)
    constant = {"region": "west", "loan_purpose": "business", "home_ownership": "RENT"}
    return young.with_columns(pl.lit(value).alias(column) for column, value in constant.items())


def _purpose_mix(shift: float) -> list[float]:
    base = np.array([0.36, 0.22, 0.1, 0.1, 0.06, 0.08, 0.08])
    stressed = np.array([0.3, 0.2, 0.04, 0.06, 0.14, 0.16, 0.1])
    mix = (1 - min(shift, 1.0)) * base + min(shift, 1.0) * stressed
    return list(mix / mix.sum())


def _with_missing(rng: np.random.Generator, values: np.ndarray, rate: float) -> pl.Series:
    return pl.Series(values).scatter(np.flatnonzero(rng.random(values.size) < rate), None)
