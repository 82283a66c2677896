"""ingest: validate landed objects against the dataset contract; each goes to the lake or to quarantine, once."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.data.steps.ingest import IngestOutcome, ingest_object, pending_objects, verdict


@flow(name="ingest")
def ingest(dataset: str = "credit", key: str = "") -> State[list[IngestOutcome]]:
    """Ingest one landed object, or every landed object of the dataset that is not in the ledger yet.

    Valid objects become lake batches (event `driftloop.batch.ingested`); invalid or unreadable ones are copied to
    quarantine with an errors.json (event `driftloop.batch.quarantined`). The landed object is never modified.

    Args:
        dataset: Name of the dataset block whose contract validates the objects; `*` means every dataset block
            (what the schedule passes, so a new dataset is picked up without editing the deployment).
        key: Landing key of one object (as the `driftloop.batch.landed` trigger passes it); empty means every
            object under landing/<dataset>/ without a ledger record.

    Returns:
        Completed with the counts when nothing was quarantined, else Failed naming each quarantined key and its
        reason; either way the state's data is the list of per-object outcomes.
    """
    # discover
    pending = pending_objects(dataset, key)
    # ingest
    outcomes = [ingest_object(name, landed) for name, landed in pending]
    # verdict
    return verdict(outcomes)
