"""Ingest's pure parts: parsing, column checks, batch metadata, artifact keys and the run verdict."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import polars as pl
import pytest

from blocks.register import demo_dataset
from tasks.contracts.credit import CreditApplication, generate
from tasks.data.ingest import (
    IngestOutcome,
    artifact_key,
    batch_meta,
    conform,
    lake_parquet,
    parse_object,
    violation_summary,
)
from tasks.data.steps.ingest import verdict
from tasks.platform.codec import parquet_bytes
from tasks.platform.contract import columns_of
from tasks.platform.errors import ContractViolation, CorruptObject

FRAME = generate(50, seed=1, start=datetime(2026, 1, 1))


def test_parquet_and_csv_parse_to_the_same_frame() -> None:
    from_parquet = parse_object("landing/x/a.parquet", parquet_bytes(FRAME))
    buffer = io.BytesIO()
    FRAME.write_csv(buffer)
    from_csv = parse_object("landing/x/a.csv", buffer.getvalue())
    assert from_parquet.equals(FRAME)
    assert conform(from_csv, CreditApplication).equals(conform(from_parquet, CreditApplication))


def test_the_lake_keeps_landed_parquet_only_when_validation_changed_nothing() -> None:
    body = parquet_bytes(FRAME)
    parsed = parse_object("landing/x/a.parquet", body)
    assert lake_parquet("landing/x/a.parquet", body, parsed, conform(parsed, CreditApplication)) is body
    narrow = FRAME.with_columns(pl.col("age").cast(pl.Int32))  # same values; the contract coerces to Int64
    buffer = io.BytesIO()
    narrow.write_csv(buffer)
    for key, landed in (("landing/x/b.parquet", parquet_bytes(narrow)), ("landing/x/b.csv", buffer.getvalue())):
        parsed = parse_object(key, landed)
        validated = conform(parsed, CreditApplication)
        written = lake_parquet(key, landed, parsed, validated)
        assert written != landed
        assert pl.read_parquet(io.BytesIO(written)).equals(validated)
        assert pl.read_parquet(io.BytesIO(written)).schema == validated.schema == FRAME.schema


@pytest.mark.parametrize(("key", "body", "match"), [("a.parquet", b"", "empty"), ("a.parquet", b"PAR1junk", "parquet")])
def test_unreadable_objects_are_corrupt(key: str, body: bytes, match: str) -> None:
    with pytest.raises(CorruptObject, match=match) as caught:
        parse_object(key, body)
    assert violation_summary(caught.value)["checks"] == [{"check": "readable", "column": None, "count": 1}]


def test_missing_and_unexpected_columns_are_reported_together() -> None:
    broken = FRAME.drop("age", "region").with_columns(pl.lit(1).alias("extra"))
    with pytest.raises(ContractViolation) as caught:
        conform(broken, CreditApplication)
    checks = {(c["check"], c["column"]) for c in caught.value.summary["checks"]}
    assert checks == {("column_in_dataframe", "age"), ("column_in_dataframe", "region"), ("column_in_schema", "extra")}


def test_batch_meta_counts_labels_and_event_time_span() -> None:
    labelled = FRAME.with_columns(
        pl.when(pl.int_range(pl.len()) < 10).then(None).otherwise("defaulted").alias("defaulted")
    )
    meta = batch_meta("d", "k", "f" * 64, "f" * 20, labelled, columns_of(demo_dataset()), datetime.now(UTC))
    assert (meta.rows, meta.labelled_rows) == (50, 40)
    assert meta.event_time_min == FRAME["applied_at"].min() and meta.event_time_max == FRAME["applied_at"].max()


def test_artifact_keys_are_lowercase_and_sanitised() -> None:
    assert artifact_key("My_Data.v2", "ABC123") == "ingest-my-data-v2-abc123"


def _outcome(key: str, outcome: str) -> IngestOutcome:
    return IngestOutcome(
        key=key, outcome=outcome, batch_id="b", sha256="s", reason="bad" if outcome != "ingested" else None
    )  # type: ignore[arg-type]


def test_verdict_completes_with_counts_when_nothing_was_quarantined() -> None:
    state = verdict([_outcome("a", "ingested"), _outcome("b", "already_handled"), _outcome("c", "duplicate")])
    assert state.is_completed()
    assert state.message == "1 ingested, 0 quarantined, 1 duplicate, 1 already handled"
    assert [o.key for o in state.result()] == ["a", "b", "c"]  # type: ignore[union-attr]


def test_verdict_fails_naming_every_quarantined_key_and_reason() -> None:
    state = verdict([_outcome("a", "ingested"), _outcome("q1", "quarantined"), _outcome("q2", "quarantined")])
    assert state.is_failed()
    assert state.message is not None and "q1: bad" in state.message and "q2: bad" in state.message
    assert state.message.startswith("1 ingested, 2 quarantined")
