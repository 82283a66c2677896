"""reconcile: start what the automations should have started and did not; nothing twice."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from tasks.operations.steps.reconcile import (
    Finding,
    Survey,
    datasets_to_reconcile,
    missing_runs,
    record_reconciliation,
    start_missing,
    survey,
)


@flow(name="reconcile", log_prints=True)
def reconcile(dataset: str = "*", grace_minutes: Annotated[float, Field(ge=0)] = 10.0) -> list[Finding]:
    """Compare what is persisted with what should exist, and start exactly the runs that are missing.

    For the newest batches of the champion's window: a batch with no predictions by the champion is scored, a scored
    batch with no drift summary is monitored; a drifted tenure with no retrain attempt is retrained. A decision of the
    last day (promotion, rejection, rollback, drift detected) whose event the server never received is announced
    again under its first id. A run already on its way is waited for; after three failed runs for the same batch the
    reconciler stops and reports it. Runs start through the deployments the automations use. What was found and done
    is the `reconcile-<dataset>` artifact.

    Args:
        dataset: Name of the dataset block; `*` (what the schedule passes) means every dataset block.
        grace_minutes: What happened more recently than this is left to the automations (they act within seconds;
            the reconciler must not race them). 0 reconciles everything now.

    Returns:
        Every finding of every dataset, each saying whether a run was started for it.
    """
    everything: list[Finding] = []
    for name in datasets_to_reconcile(dataset):
        # survey
        seen: Survey = survey(name)
        # decide
        found = missing_runs(seen, grace_minutes)
        # start
        started = start_missing(seen, found)
        # record
        record_reconciliation(name, found, started)
        everything += found
    return everything
