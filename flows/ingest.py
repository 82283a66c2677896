"""ingest: validate landed objects against the dataset contract; each goes to the lake or to quarantine, once."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.data.steps.ingest import IngestOutcome, ingest_object, verdict
from tasks.data.steps.pending import Pending, pending_objects


@flow(name="ingest")
def ingest(dataset: str = "*", key: str = "") -> State[list[IngestOutcome]]:
    """Ingest one landed object, or every landed object of the dataset that is not in the ledger yet.

    Valid objects become lake batches (event `driftloop.batch.ingested`); invalid or unreadable ones are copied to
    quarantine with an errors.json (event `driftloop.batch.quarantined`). The landed object is never modified.

    Args:
        dataset: Name of the dataset block whose contract validates the objects; `*` (the default, and what the
            schedule passes) means every dataset block, so a new dataset is picked up without editing the deployment;
            with a `key`, the dataset it lands under.
        key: Landing key of one object (as the `driftloop.batch.landed` trigger passes it); empty means every
            object under landing/<dataset>/ without a ledger record.

    Each object is handled in isolation: an unexpected failure on one (a polars panic, an S3 error that outlasted the
    retries) is recorded with its attempt count and the run goes on; the scheduled sweep tries it again after a
    backoff, and quarantines it after three failures. For `*`, a dataset that cannot be looked at is skipped and named.

    Returns:
        Completed with the counts when nothing was quarantined, failed or skipped, else Failed naming each such key
        or dataset and why; the per-object outcomes are the Completed state's data, or on the Failed state's error.
    """
    # discover
    pending: Pending = pending_objects(dataset, key)
    # ingest
    outcomes = [ingest_object(name, landed) for name, landed in pending.objects]
    # verdict
    return verdict(outcomes, pending.skipped)
