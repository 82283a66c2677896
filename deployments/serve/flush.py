"""Landing the online log: each due micro-batch becomes an object in landing/<dataset>/online/ (ingested, monitored
and trained on like any batch), its serving log beside it in serving/, and in shadow mode the comparison of the two
models on its rows. Everything is persisted before `driftloop.batch.landed` announces it; a micro-batch that cannot
be written is held and goes out with the next flush, so a store outage loses nothing the process still holds."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
from botocore.exceptions import BotoCoreError, ClientError
from prefect.exceptions import PrefectException

from deployments.serve.catalog import Catalog, Served
from tasks.model.records import LoadedModel
from tasks.model.scoring import predict
from tasks.platform import events
from tasks.platform.artifacts import publish_table
from tasks.platform.codec import json_bytes
from tasks.serving.online_log import MicroBatch, online_landing_key, serving_log_key, shadow_prefix
from tasks.serving.shadow import ShadowSummary, summarise, timed_scores

log = logging.getLogger("driftloop.serve")
TIMING_CHUNK = 100  # rows per timed scoring call: the shadow summary's p95 is over these
TIMED_CHUNKS = 20


@dataclass(frozen=True)
class Landed:
    """What one flush landed for a dataset: the server's metrics count it."""

    rows: int = 0
    shadow_rows: int = 0

    def __add__(self, other: Landed) -> Landed:
        return Landed(self.rows + other.rows, self.shadow_rows + other.shadow_rows)


def flush(catalog: Catalog, force: bool = False) -> dict[str, Landed]:
    """Land every dataset's due micro-batch (all waiting rows with `force`); what was landed, by dataset. Whatever
    the server handed over is landed: it logged the records under the policy it saw."""
    landed: dict[str, Landed] = {}
    for served in catalog.all().values():
        # Only while due: records keep arriving during a landing, and draining until empty would land them one by one.
        while (force or served.log.due()) and (batch := served.log.drain(served.contract.rows.dtypes)) is not None:
            try:
                counted = land(served, batch)
            except (BotoCoreError, ClientError, PrefectException, OSError) as exc:
                log.error("online log of %s not landed, held for the next flush: %s", served.cfg.name, exc)
                served.log.hold(batch)
                break
            landed[served.cfg.name] = landed.get(served.cfg.name, Landed()) + counted
    return landed


def land(served: Served, batch: MicroBatch) -> Landed:
    cfg = served.cfg
    name = batch.name
    summary, log_frame = None, batch.served
    if served.policy.mode == "shadow" and served.challenger is not None and served.champion is not None:
        summary, log_frame = _shadow(served, batch, served.champion, served.challenger)
    cfg.store.write_parquet_if_absent(serving_log_key(cfg.name, name), log_frame)
    if summary is not None:
        key = f"{shadow_prefix(cfg.name, summary.challenger_version)}{name}.json"
        cfg.store.put_if_absent(key, json_bytes(summary.model_dump()))
    key = online_landing_key(cfg.name, name)
    cfg.store.write_parquet_if_absent(key, batch.records)
    payload = {"dataset": cfg.name, "key": key, "source": "online", "rows": batch.records.height}
    event_id = events.deterministic_id("landed", cfg.name, key)  # landed again after a failure: one event
    events.emit(events.BATCH_LANDED, events.batch_resource(cfg.name, f"online-{name}"), payload, event_id)
    if summary is None:
        return Landed(batch.records.height)
    described = f"v{summary.challenger_version} in shadow of v{summary.champion_version}: {summary.rows} rows"
    publish_table("shadow", cfg.name, [summary.model_dump()], described)
    return Landed(batch.records.height, batch.records.height)


def _shadow(
    served: Served, batch: MicroBatch, champion: LoadedModel, challenger: LoadedModel
) -> tuple[ShadowSummary, pl.DataFrame]:
    """Both models on the micro-batch's rows, timed in chunks; the challenger's scores join the serving log. The
    champion's scores are the ones it answered with, unless another version answered some rows (a swap, a canary)."""
    answered = batch.served.get_column("score").to_numpy()
    by_champion = bool((batch.served.get_column("answered_by") == champion.version).all())
    champion_scores, champion_ms = _timed_scores(champion, batch.records, served, answered if by_champion else None)
    challenger_scores, challenger_ms = _timed_scores(challenger, batch.records, served)
    names = (served.cfg.name, champion.version, challenger.version)
    threshold = served.cfg.promotion.decision_threshold
    summary = summarise(names, champion_scores, challenger_scores, (champion_ms, challenger_ms), threshold)
    log_frame = batch.served.with_columns(
        pl.lit(challenger.version).alias("challenger_version"), pl.Series("challenger_score", challenger_scores)
    )
    return summary, log_frame


def _timed_scores(
    model: LoadedModel, frame: pl.DataFrame, served: Served, known: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The scores of every row (`known`: only the timed chunks are scored again), and the latency of up to
    TIMED_CHUNKS request-sized chunks. One thread: the lander leaves the other core to the server's answers."""

    def score(start: int, length: int | None) -> np.ndarray:
        return predict(model, frame.slice(start, length), served.cfg.columns, threads=1)

    if known is not None:
        return known, timed_scores(score, min(frame.height, TIMING_CHUNK * TIMED_CHUNKS), TIMING_CHUNK, TIMED_CHUNKS)[1]
    return timed_scores(score, frame.height, TIMING_CHUNK, TIMED_CHUNKS)
