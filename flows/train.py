"""The train flow: fit a LightGBM challenger on the training window and register it in MLflow."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.model.steps.train import (
    announce_registered,
    fit_challenger,
    load_dataset,
    plan_training,
    register_challenger,
    registered_state,
)


@flow(name="train", log_prints=True)
def train(dataset: str = "", onset_batch_id: str = "", trigger_event_id: str = "") -> State[str]:
    """Train a challenger, register it with lineage and the `challenger` alias, and return its version.

    Window rule (DESIGN §4, "the retraining window follows the new regime"):
    the holdout is the newest `holdout_rows` labelled rows (newest batches first) and is never trained on; it is
    recorded with the version so `promote` judges on exactly those rows. Without an onset the window is the newest
    `train_batches` batches minus the holdout. With an onset the window is every batch since the onset (inclusive)
    minus the holdout; if that holds fewer than `min_onset_rows` labelled rows, the newest pre-onset batches are added
    one at a time until it does. The stored reference sample is always drawn from post-onset batches only, so
    monitoring re-anchors on the new regime. Too few labelled rows overall raises NotEnoughData with the numbers.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        onset_batch_id: First drifted batch of a drift episode; empty trains on the normal window.
        trigger_event_id: Id of the event that caused this training, recorded as lineage.
    """
    cfg = load_dataset(dataset)
    # plan
    plan = plan_training(cfg, onset_batch_id)
    # fit
    record = fit_challenger(cfg, plan, trigger_event_id)
    # register
    version: str = register_challenger(cfg, record)
    # announce
    announce_registered(cfg, version, record)
    return registered_state(version, record)
