"""The score flow: score a validated batch with the champion and write its predictions."""

from __future__ import annotations

from prefect import flow

from tasks.model.steps.score import (
    ScoredBatch,
    announce_scored,
    load_dataset,
    require_champion,
    resolve_batch,
    score_batch,
)


@flow(name="score", log_prints=True)
def score(dataset: str = "credit", batch_id: str = "") -> ScoredBatch:
    """Validate a batch against the contract, score it with the exact champion version and store the predictions.

    Args:
        dataset: Name of the dataset block.
        batch_id: Validated batch to score; empty scores the newest one.
    """
    cfg = load_dataset(dataset)
    # resolve
    batch: str = resolve_batch(cfg, batch_id)
    # champion
    version: str = require_champion(cfg)
    # score
    scored: ScoredBatch = score_batch(cfg, batch, version)
    # announce
    announce_scored(cfg, scored)
    return scored
