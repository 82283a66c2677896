"""Canary routing by id hash, the shadow comparison, and the online log's micro-batches (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from tasks.serving import wire
from tasks.serving.checked import Checked
from tasks.serving.online_log import OnlineLog
from tasks.serving.routing import bucket, to_challenger
from tasks.serving.shadow import ks_distance, rank_correlation, summarise, timed_scores
from tasks.serving.wire import Handed, Scored


def test_a_fifth_of_five_thousand_ids_go_to_the_canary_the_same_ones_every_time() -> None:
    ids = [f"applicant-{i}" for i in range(5000)]
    routed = to_challenger(ids, 20.0)
    assert 0.18 <= routed.mean() <= 0.22
    assert (to_challenger(list(reversed(ids)), 20.0)[::-1] == routed).all()  # per id, not per position
    assert bucket("applicant-7") == bucket("applicant-7")
    assert not to_challenger(ids, 0.0).any() and to_challenger(ids, 100.0).all()


def test_timed_scores_are_the_scores_of_every_row_in_order_with_at_most_the_asked_chunks_timed() -> None:
    values = np.random.default_rng(2).random(2500)
    calls: list[tuple[int, int | None]] = []

    def score(start: int, length: int | None) -> np.ndarray:
        calls.append((start, length))
        return values[start : None if length is None else start + length]

    for rows, timed in ((0, 0), (1, 1), (250, 3), (2000, 20), (2500, 20)):
        calls.clear()
        scores, ms = timed_scores(score, rows, 100, 20)
        assert np.array_equal(scores, values[:rows]) and len(ms) == timed and (ms >= 0).all()
        assert sum(rows - start if length is None else length for start, length in calls) == rows  # each row once
        assert len(calls) == timed + (rows > 2000)


def test_shadow_summary_of_identical_reversed_and_shifted_models() -> None:
    rng = np.random.default_rng(5)
    champion = rng.random(1000)
    ms = (np.full(10, 2.0), np.arange(1.0, 11.0))
    same = summarise(("d", "1", "2"), champion, champion.copy(), ms, 0.5)
    assert (same.agreement, same.rank_correlation, same.score_distance) == (1.0, 1.0, 0.0)
    assert same.challenger_p95_ms == np.percentile(np.arange(1.0, 11.0), 95) and same.champion_p95_ms == 2.0
    assert rank_correlation(champion, 1 - champion) == -1.0
    assert ks_distance(champion, champion + 2.0) == 1.0
    shifted = summarise(("d", "1", "2"), champion, np.clip(champion + 0.1, 0, 1), ms, 0.5)
    assert 0.85 < shifted.agreement < 0.95 and shifted.rank_correlation > 0.99


SERVED_AT = datetime(2024, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


DTYPES: dict[str, pl.DataType] = {"id": pl.String(), "x": pl.Float64()}


def scored(rows: int, request: str) -> Handed:
    records = pl.DataFrame({"id": [f"{request}-{i}" for i in range(rows)], "x": np.arange(rows, dtype=float)})
    ids = records["id"].to_list()
    answer = Scored(request, Checked(frame=records), ids, ["1"] * rows, np.linspace(0, 1, rows), 3.0, SERVED_AT)
    return wire.decode(wire.encode("d", answer))


def test_the_log_is_due_by_rows_or_by_time_and_a_held_batch_goes_out_first_under_its_name() -> None:
    now = [0.0]
    log = OnlineLog(flush_rows=10, flush_seconds=5.0, clock=lambda: now[0])
    now[0] = 100.0  # an idle log is never due, however long it waited
    assert not log.due()
    log.append(scored(4, "a"))
    assert not log.due()  # the clock starts at the oldest record
    now[0] = 105.0
    assert log.due()  # that record waited long enough
    log.append(scored(8, "b"))
    batch = log.drain(DTYPES)
    assert batch is not None and batch.records.height == 12 and not log.due()
    assert batch.served["request_id"].to_list() == ["a"] * 4 + ["b"] * 8
    assert batch.served["served_at"].to_list() == [SERVED_AT] * 12  # when the server answered, not when logged
    log.hold(batch)  # landing failed
    log.append(scored(10, "c"))
    assert log.due() and log.waiting == 22
    again = log.drain(DTYPES)
    assert again is not None and again.name == batch.name and again.records.equals(batch.records)
    rest = log.drain(DTYPES)
    assert rest is not None and rest.records.height == 10 and log.drain(DTYPES) is None
