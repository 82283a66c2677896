"""simulate: land synthetic batches of a dataset in landing/, for demos and tests of every scenario."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from tasks.data.steps.simulate import Scenario, dataset_named, land, plan, record_landed


@flow(name="simulate")
def simulate(
    dataset: str = "",
    scenario: Scenario = "baseline",
    batches: Annotated[int, Field(ge=1, le=1000)] = 1,
    rows: Annotated[int, Field(ge=1, le=10_000_000)] = 10000,
    seed: Annotated[int, Field(ge=0)] = 0,
    first_day: Annotated[int, Field(ge=0)] = 0,
) -> list[str]:
    """Land `batches` synthetic objects of one scenario under landing/<dataset>/, one per day.

    Args:
        dataset: Name of the dataset block (empty: the only one); its contract module must define `generate`.
        scenario: baseline; covariate_shift_sudden (full shift on every batch); covariate_shift_gradual (shift
            rising to full over the batches); concept_drift (same marginals, new relation to the target);
            schema_break, quality_issue, corrupt_file (defect variants cycle by batch index).
        batches: Number of objects to land, one per day.
        rows: Rows per object.
        seed: Random seed; the same seed lands the same bytes under the same keys.
        first_day: Day offset of the first batch, so successive runs have later event times.

    Returns:
        The landing keys written, in order.
    """
    dataset = dataset_named(dataset)
    # plan
    plans = plan(dataset, scenario, batches, seed, first_day)
    # land
    keys = [land(dataset, batch, rows, scenario) for batch in plans]
    # record
    record_landed(dataset, scenario, keys)
    return keys
