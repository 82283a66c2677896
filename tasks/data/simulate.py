"""Synthetic producers: plan the batches of a scenario, draw them with the contract's `generate`, break them on purpose.

Everything here is pure and deterministic by seed, so a scenario re-run writes the same bytes under the same keys.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel

from tasks.platform.codec import parquet_bytes
from tasks.platform.contract import Columns
from tasks.platform.errors import ConfigurationError

Scenario = Literal[
    "baseline",
    "covariate_shift_sudden",
    "covariate_shift_gradual",
    "concept_drift",
    "segment_anomaly",
    "schema_break",
    "quality_issue",
    "corrupt_file",
]
Generator = Callable[..., pl.DataFrame]

EPOCH = datetime(2026, 1, 1)  # event time of day 0; `first_day` moves later runs past earlier ones
DEFECTS: dict[str, tuple[str, ...]] = {
    "schema_break": ("missing_column", "renamed_column", "wrong_type"),
    "quality_issue": ("null_spike", "out_of_range", "duplicate_ids"),
    "corrupt_file": ("truncated", "empty"),
}
DEFECT_SHARE = 0.2  # share of rows a quality defect touches: loud enough that no contract can miss it


class BatchPlan(BaseModel):
    """One object to land: where, when, how shifted, and which defect (if any) it carries."""

    name: str
    day: int
    seed: int
    shift: float
    concept: bool
    defect: str | None
    segment: bool = False  # drawn from one segment of the population only (an export ordered by region, say)


def plan_batches(scenario: Scenario, batches: int, seed: int, first_day: int) -> list[BatchPlan]:
    """The objects of a scenario: one per day from `first_day`; defects cycle by batch index."""
    if batches < 1:
        raise ConfigurationError(f"batches must be at least 1, got {batches}")
    plans = []
    for index in range(batches):
        day = first_day + index
        defects = DEFECTS.get(scenario)
        plans.append(
            BatchPlan(
                name=f"{scenario}-s{seed}-d{day}.parquet",
                day=day,
                seed=seed * 100_000 + day,  # distinct draws (and ids) per day, the same for the same seed
                shift=_shift(scenario, index, batches),
                concept=scenario == "concept_drift",
                defect=defects[index % len(defects)] if defects else None,
                segment=scenario == "segment_anomaly",
            )
        )
    return plans


def _shift(scenario: Scenario, index: int, batches: int) -> float:
    if scenario == "covariate_shift_sudden":
        return 1.0
    if scenario == "covariate_shift_gradual":
        return (index + 1) / batches
    return 0.0


def generator_for(contract_path: str) -> Generator:
    """The `generate(n, seed, start, shift=0.0, concept=False)` function that sits next to a dataset's contract."""
    module = importlib.import_module(contract_path.partition(":")[0])
    generate = getattr(module, "generate", None)
    if not callable(generate):
        raise ConfigurationError(f"contract module {module.__name__!r} has no generate() function to simulate with")
    return generate  # type: ignore[no-any-return]


def render_batch(
    generate: Generator, plan: BatchPlan, rows: int, contract: type[pa.DataFrameModel], columns: Columns
) -> bytes:
    """The bytes of one planned object: a generated frame, with its defect applied."""
    frame = _draw(generate, plan, rows, columns)
    if plan.defect == "empty":
        return b""
    if plan.defect == "truncated":
        body = parquet_bytes(frame)
        return body[: len(body) // 2]
    if plan.defect is not None:
        frame = apply_defect(frame, plan.defect, contract, columns)
    return parquet_bytes(frame)


def _draw(generate: Generator, plan: BatchPlan, rows: int, columns: Columns) -> pl.DataFrame:
    start = EPOCH + timedelta(days=plan.day)
    if not plan.segment:
        return generate(rows, plan.seed, start, shift=plan.shift, concept=plan.concept)
    # The contract module's own `segment(frame)` says what one segment is; else the commonest combination of the two
    # categorical columns with the most categories. Drawn big enough to hold `rows` of it.
    select = getattr(inspect.getmodule(generate), "segment", None) or (lambda frame: _modal_segment(frame, columns))
    for factor in (20, 100, 500):
        segment = select(generate(rows * factor, plan.seed, start, shift=plan.shift, concept=plan.concept))
        if segment.height >= rows:
            return segment.head(rows)
    raise ConfigurationError(f"the contract's segment holds fewer than {rows} rows in {rows * 500} drawn")


def _modal_segment(frame: pl.DataFrame, columns: Columns) -> pl.DataFrame:
    widest = sorted(columns.categorical, key=lambda c: frame.get_column(c).n_unique(), reverse=True)[:2]
    modal = {c: frame.get_column(c).mode().sort().first() for c in widest}
    return frame.filter(*(pl.col(c) == value for c, value in modal.items()))


def apply_defect(frame: pl.DataFrame, defect: str, contract: type[pa.DataFrameModel], columns: Columns) -> pl.DataFrame:
    """Break a valid frame in one named way, on columns chosen from the contract so any dataset can be broken."""
    victim = _strict_numeric(contract, columns)
    touched = pl.int_range(pl.len()) % round(1 / DEFECT_SHARE) == 0
    if defect == "missing_column":
        return frame.drop(victim)
    if defect == "renamed_column":
        return frame.rename({victim: f"{victim}_v2"})
    if defect == "wrong_type":
        return frame.with_columns(pl.col(victim).cast(pl.String) + " units")
    if defect == "null_spike":
        return frame.with_columns(pl.when(touched).then(None).otherwise(pl.col(victim)).alias(victim))
    if defect == "out_of_range":
        return frame.with_columns(pl.when(touched).then(-(10**9)).otherwise(pl.col(victim)).alias(victim))
    if defect == "duplicate_ids":
        first_id = pl.col(columns.id).first()
        return frame.with_columns(pl.when(touched).then(first_id).otherwise(pl.col(columns.id)).alias(columns.id))
    raise ConfigurationError(f"unknown defect {defect!r}")


def _strict_numeric(contract: type[pa.DataFrameModel], columns: Columns) -> str:
    """A numeric feature that is non-nullable and range-checked: nulls and huge negatives both break it."""
    schema = contract.to_schema().columns
    for name in columns.numeric:
        if not schema[name].nullable and schema[name].checks:
            return name
    raise ConfigurationError("the contract has no non-nullable, range-checked numeric column to break")
