"""The score flow: score a validated batch with the champion and write its predictions."""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State

from tasks.model.steps.score import (
    ScoredBatch,
    announce_scored,
    current_champion,
    load_dataset,
    no_champion_yet,
    resolve_batch,
    score_batch,
    shadow_version,
)


@flow(name="score", log_prints=True)
def score(dataset: str = "", batch_id: str = "") -> ScoredBatch | State[None]:
    """Validate a batch against the contract, score it with the exact champion version and store the predictions.

    During a new champion's bake period (`bake_batches` in the promotion policy), the champion it replaced scores the
    batch too; its predictions are stored under its own version for monitor's comparison, never served.

    Args:
        dataset: Name of the dataset block; empty means the only one (with several, a name is required).
        batch_id: Validated batch to score; empty scores the newest one.

    Returns:
        The scored batch; with no champion yet, a Completed state saying so (nothing is scored).
    """
    cfg = load_dataset(dataset)
    # resolve
    batch: str = resolve_batch(cfg, batch_id)
    # champion
    version = current_champion(cfg)
    if version is None:
        return no_champion_yet(cfg)
    # shadow
    shadow = shadow_version(cfg, version)
    # score
    scored: ScoredBatch = score_batch(cfg, batch, version, shadow)
    # announce
    announce_scored(cfg, scored)
    return scored
