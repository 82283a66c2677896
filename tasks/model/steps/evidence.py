"""What the promotion gates judge, gathered: both models scored on the challenger's recorded holdout, overall and
per slice of the policy's slice columns."""

from __future__ import annotations

import polars as pl

from tasks.model.gates import Evidence, lift_lower_bound
from tasks.model.metrics import roc_auc_or_nan
from tasks.model.registry import load_model
from tasks.model.scoring import latency_ms_per_1k, predict
from tasks.model.slices import SliceEvidence, slice_evidence
from tasks.model.steps.score import read_holdout
from tasks.platform.config import DatasetConfig
from tasks.serving.online_log import shadow_prefix


def gather_evidence(
    cfg: DatasetConfig, challenger_version: str, champion: str | None
) -> tuple[Evidence, list[SliceEvidence]]:
    """The overall evidence and every slice's, the champion's scores taken on the same rows (none without one)."""
    holdout = read_holdout(cfg, challenger_version)
    labels = holdout.get_column(cfg.columns.target).to_numpy()
    challenger_model = load_model(cfg, challenger_version)
    challenger_scores = predict(challenger_model, holdout, cfg.columns)
    champion_scores = predict(load_model(cfg, champion), holdout, cfg.columns) if champion else None
    policy = cfg.promotion
    groups = {c: holdout.get_column(c).cast(pl.String).to_numpy() for c in policy.slice_columns if c in holdout.columns}
    slices = slice_evidence(labels, challenger_scores, champion_scores, groups, policy)
    return Evidence(
        challenger_auc=roc_auc_or_nan(labels, challenger_scores),
        champion_auc=roc_auc_or_nan(labels, champion_scores) if champion_scores is not None else None,
        lift_lower_bound=lift_lower_bound(
            labels, challenger_scores, champion_scores, policy.bootstrap_rounds, policy.confidence
        )
        if champion_scores is not None
        else None,
        latency_ms_per_1k=latency_ms_per_1k(challenger_model, holdout, cfg.columns),
        shadow_rows=shadow_rows(cfg, challenger_version) if policy.min_shadow_rows else None,
    ), slices


def shadow_rows(cfg: DatasetConfig, challenger_version: str) -> int:
    """Online records the model server scored with this version in shadow: the rows of its shadow summaries (one
    per landed micro-batch while it was the challenger, so the listing ends with its shadow period)."""
    keys = cfg.store.list_keys(shadow_prefix(cfg.name, challenger_version))
    return sum(int(cfg.store.get_json(key)["rows"]) for key in keys)
