"""Ingest's pure parts: parsing, typing by the contract, column checks, batch metadata, artifact keys, the verdict."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated

import pandera.polars as pa
import polars as pl
import pytest

from blocks.register import demo_dataset
from tasks.contracts.credit import CreditApplication, generate
from tasks.data.conformance import conform
from tasks.data.ingest import (
    IngestOutcome,
    batch_meta,
    lake_parquet,
    parse_object,
    violation_summary,
)
from tasks.data.steps.ingest import verdict
from tasks.platform.codec import parquet_bytes
from tasks.platform.contract import columns_of, type_text
from tasks.platform.errors import ContractViolation, CorruptObject, IngestFailures

FRAME = generate(50, seed=1, start=datetime(2026, 1, 1))


def _csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def test_parquet_and_csv_parse_to_the_same_frame() -> None:
    from_parquet = parse_object("landing/x/a.parquet", parquet_bytes(FRAME))
    from_csv = parse_object("landing/x/a.csv", _csv(FRAME))
    assert from_parquet.equals(FRAME)
    assert set(from_csv.dtypes) == {pl.String}  # CSV is text until the contract types it
    assert conform(from_csv, CreditApplication).equals(conform(from_parquet, CreditApplication))


def test_a_parquet_batch_whose_types_match_is_not_retyped() -> None:
    assert type_text(parse_object("a.parquet", parquet_bytes(FRAME)), CreditApplication.to_schema()) == []


def test_csv_ids_keep_their_leading_zeros() -> None:
    ids = FRAME.with_columns(pl.format("00{}", pl.int_range(pl.len()) + 100).alias("application_id"))
    conformed = conform(parse_object("a.csv", _csv(ids)), CreditApplication)
    assert conformed["application_id"].to_list()[:2] == ["00100", "00101"]
    assert conformed.equals(ids)


def test_a_csv_column_integral_in_its_first_rows_and_fractional_later_is_the_declared_float() -> None:
    frame = generate(300, seed=2, start=datetime(2026, 1, 1))
    late = pl.int_range(pl.len()) >= 250  # past any schema inference window
    frame = frame.with_columns(pl.when(late).then(pl.col("loan_amount")).otherwise(pl.col("loan_amount").round(0)))
    text = frame.with_columns(
        pl.when(late)
        .then(pl.col("loan_amount").cast(pl.String))
        .otherwise(pl.col("loan_amount").cast(pl.Int64).cast(pl.String))
    )
    assert text["loan_amount"][0].isdigit() and not text["loan_amount"][-1].isdigit()
    conformed = conform(parse_object("a.csv", _csv(text)), CreditApplication)
    assert conformed["loan_amount"].dtype == pl.Float64
    assert conformed.equals(frame)


ISO_TEXT = {
    "T, microseconds": pl.col("applied_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"),
    "space, seconds": pl.col("applied_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
    "Z": pl.col("applied_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "+02:00, milliseconds": (pl.col("applied_at") + pl.duration(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+02:00"),
    "mixed in one column": pl.when(pl.int_range(pl.len()) % 2 == 0)
    .then(pl.col("applied_at").dt.strftime("%Y-%m-%dT%H:%M:%S"))
    .otherwise((pl.col("applied_at") - pl.duration(hours=5)).dt.strftime("%Y-%m-%dT%H:%M:%S-0500")),
}


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("form", list(ISO_TEXT))
def test_iso_timestamp_strings_are_coerced_into_the_datetime_field(kind: str, form: str) -> None:
    text = FRAME.with_columns(ISO_TEXT[form])
    assert text["applied_at"].dtype == pl.String
    body = parquet_bytes(text) if kind == "parquet" else _csv(text)
    parsed = parse_object(f"landing/x/a.{kind}", body)
    conformed = conform(parsed, CreditApplication)
    assert conformed.schema == FRAME.schema
    assert conformed.equals(FRAME)  # offsets are converted to the contract's zone (none: UTC)
    assert pl.read_parquet(io.BytesIO(lake_parquet(f"a.{kind}", body, parsed, conformed))).equals(FRAME)


class Stamped(pa.DataFrameModel):
    at: Annotated[pl.Datetime, "ms", "Europe/Berlin"]
    day: pl.Date = pa.Field(nullable=True)

    class Config:
        coerce = True


def test_iso_text_takes_the_contracts_time_unit_and_zone() -> None:
    text = pl.DataFrame(
        {
            "at": ["2026-01-15T10:00:00.123456", "2026-07-15T10:00:00Z", "2026-01-15T10:00:00+02:00", "2026-01-15"],
            "day": ["2026-01-15", "2026-07-15", "2026-01-16", None],
        }
    )
    conformed = conform(parse_object("a.parquet", parquet_bytes(text)), Stamped)
    assert conformed.schema == {"at": pl.Datetime("ms", "Europe/Berlin"), "day": pl.Date}
    assert [str(t) for t in conformed["at"].to_list()] == [
        "2026-01-15 10:00:00.123000+01:00",  # naive: local time in the contract's zone, to its unit
        "2026-07-15 12:00:00+02:00",  # an offset: the same instant in the contract's zone
        "2026-01-15 09:00:00+01:00",
        "2026-01-15 00:00:00+01:00",
    ]
    assert conformed["day"].to_list()[:1] == [datetime(2026, 1, 15).date()]


@pytest.mark.parametrize(
    ("kind", "column", "bad", "check"),
    [
        ("csv", "age", "forty", "coerce_dtype('Int64')"),
        ("csv", "credit_score", "700.5", "coerce_dtype('Int64')"),  # a float late in an integer column
        ("csv", "has_cosigner", "maybe", "coerce_dtype('Boolean')"),
        ("parquet", "applied_at", "yesterday", "coerce_dtype('Datetime(time_unit='us', time_zone=None)')"),
        ("parquet", "interest_rate", "12,5", "coerce_dtype('Float64')"),
    ],
)
def test_a_value_that_cannot_be_coerced_is_a_named_contract_failure(
    kind: str, column: str, bad: str, check: str
) -> None:
    rows = [3, 250, 251]
    frame = generate(300, seed=3, start=datetime(2026, 1, 1))
    broken = frame.with_columns(frame[column].cast(pl.String).scatter(rows, bad))
    body = parquet_bytes(broken) if kind == "parquet" else _csv(broken)
    with pytest.raises(ContractViolation) as caught:
        conform(parse_object(f"a.{kind}", body), CreditApplication)
    summary = violation_summary(caught.value)
    assert summary["checks"] == [{"check": check, "column": column, "count": 3}]
    assert (summary["rows"], summary["failures"]) == (300, 3)
    assert summary["samples"] == [{"column": column, "check": check, "failure_case": bad, "index": i} for i in rows]
    assert f"{check} on {column} (3)" in str(caught.value)


def test_failure_samples_name_their_rows_by_the_id_column_too() -> None:
    frame = generate(50, seed=4, start=datetime(2026, 1, 1))
    broken = frame.with_columns(frame["age"].scatter([7], -3))  # a Pandera check, not a coercion
    with pytest.raises(ContractViolation) as caught:
        conform(broken, CreditApplication, id_column="application_id")
    (sample,) = [s for s in caught.value.summary["samples"] if s["column"] == "age"]
    assert sample["index"] == 7 and sample["application_id"] == frame["application_id"][7]


def test_uncoercible_values_and_column_failures_are_reported_together() -> None:
    broken = FRAME.drop("region").with_columns(FRAME["age"].cast(pl.String).scatter([0], "old"))
    with pytest.raises(ContractViolation) as caught:
        conform(parse_object("a.csv", _csv(broken)), CreditApplication)
    checks = {(c["check"], c["column"], c["count"]) for c in caught.value.summary["checks"]}
    assert checks == {("column_in_dataframe", "region", 1), ("coerce_dtype('Int64')", "age", 1)}


def test_the_lake_keeps_landed_parquet_only_when_validation_changed_nothing() -> None:
    body = parquet_bytes(FRAME)
    parsed = parse_object("landing/x/a.parquet", body)
    assert lake_parquet("landing/x/a.parquet", body, parsed, conform(parsed, CreditApplication)) is body
    narrow = FRAME.with_columns(pl.col("age").cast(pl.Int32))  # same values; the contract coerces to Int64
    for key, landed in (("landing/x/b.parquet", parquet_bytes(narrow)), ("landing/x/b.csv", _csv(narrow))):
        parsed = parse_object(key, landed)
        validated = conform(parsed, CreditApplication)
        written = lake_parquet(key, landed, parsed, validated)
        assert written != landed
        assert pl.read_parquet(io.BytesIO(written)).equals(validated)
        assert pl.read_parquet(io.BytesIO(written)).schema == validated.schema == FRAME.schema


@pytest.mark.parametrize(
    ("key", "body", "match"),
    [("a.parquet", b"", "empty"), ("a.parquet", b"PAR1junk", "parquet"), ("a.csv", b"a,b\n1,2,3\n", "CSV")],
)
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


def _outcome(key: str, outcome: str) -> IngestOutcome:
    return IngestOutcome(
        key=key, outcome=outcome, batch_id="b", sha256="s", reason="bad" if outcome != "ingested" else None
    )  # type: ignore[arg-type]


def test_verdict_completes_with_counts_when_nothing_was_quarantined() -> None:
    state = verdict([_outcome("a", "ingested"), _outcome("b", "already_handled"), _outcome("c", "duplicate")])
    assert state.is_completed()
    assert state.message == "1 ingested, 0 quarantined, 0 failed, 1 duplicate, 1 already handled"
    assert [o.key for o in state.result()] == ["a", "b", "c"]  # type: ignore[union-attr]


def test_verdict_fails_naming_every_quarantined_key_and_reason() -> None:
    state = verdict([_outcome("a", "ingested"), _outcome("q1", "quarantined"), _outcome("q2", "quarantined")])
    assert state.is_failed()
    assert state.message is not None and "q1: bad" in state.message and "q2: bad" in state.message
    assert state.message.startswith("1 ingested, 2 quarantined")
    with pytest.raises(IngestFailures, match="q1: bad") as raised:  # the message, never "Unexpected result"
        state.result()
    assert [o.key for o in raised.value.outcomes] == ["a", "q1", "q2"]


def test_verdict_names_failed_objects_with_their_next_attempt_and_skipped_datasets() -> None:
    failed = _outcome("p", "failed").model_copy(
        update={"attempts": 1, "next_attempt_at": datetime(2026, 1, 1, 12, 5, tzinfo=UTC), "reason": "boom"}
    )
    state = verdict([_outcome("a", "ingested"), failed], {"sensors": "ConfigurationError: no contract"})
    assert state.is_failed() and state.message is not None
    assert state.message.startswith("1 ingested, 0 quarantined, 1 failed")
    assert "Failed p (1 of 3 attempts, next after 12:05:00 UTC): boom" in state.message
    assert "Skipped dataset 'sensors': ConfigurationError: no contract" in state.message
