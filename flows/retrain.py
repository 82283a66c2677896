"""The retrain flow: train a challenger and gate it, once per drift episode and within the retrain budget."""

from __future__ import annotations

from typing import cast

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed
from prefect.transactions import transaction


@flow(name="retrain", log_prints=True)
def retrain(
    dataset: str = "", onset_batch_id: str = "", trigger_event_id: str = "", champion_version: int | str = ""
) -> State:
    """Train then promote as the next attempt of the current champion's drift episode, unless an attempt holds it,
    the last one ended within the backoff, or the retrain budget is spent.

    Manual, scheduled and automated runs all go through the same claim, so a burst of drift events, a person pressing
    Run and the automation together still produce one attempt at a time. A rejected or failed attempt reopens the
    episode after the drift policy's backoff (or sooner with enough new labelled rows); a killed one after its lease;
    a promotion or rollback starts a new tenure and so a new episode. The retrain path emits no drift events.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        onset_batch_id: First drifted batch of the episode (from the drift event); the training window and the new
            reference start there. The tenure's earliest drifted batch, as monitoring marked it, takes precedence;
            empty with nothing marked trains on the normal window.
        trigger_event_id: Id of the drift event that asked for this retrain, recorded as lineage.
        champion_version: Champion the drift was measured against (from the drift event), e.g. 3. If another
            champion replaced it meanwhile, the episode is over and the run skips. Empty retrains whatever serves now.
    """
    # Imported in the run, not at module level: MLflow, LightGBM and Pandera take seconds to load, and the run should
    # be Running (visible, cancellable, logging) as soon as the worker's process starts; the work needs them anyway.
    from flows.promote import promote
    from flows.train import train
    from tasks.model.steps.promote import PromotionDecision, state_name
    from tasks.model.steps.retrain import claim_retrain, dataset_named, record_skip, settle_attempt

    dataset = dataset_named(dataset)
    with transaction():
        # claim
        claim = claim_retrain(dataset, trigger_event_id, str(champion_version), onset_batch_id)
        if not claim.granted:
            # skip
            record_skip(claim)
            return Completed(name="Skipped", message=f"retrain skipped: {claim.reason}")
        # train
        version = cast(
            str, train(dataset=dataset, onset_batch_id=claim.onset_batch_id, trigger_event_id=trigger_event_id)
        )
        # promote
        # A flow that returns a state hands its caller the state's data.
        decision = cast(PromotionDecision, promote(dataset=dataset, challenger_version=version))
        # settle
        settle_attempt(claim, decision.outcome, str(decision))
    return Completed(name=state_name(decision), message=f"retrained: challenger v{version}, {decision}", data=decision)
