"""The contract compiled for requests gives Pandera's verdicts: the same rows pass, the same checks fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from blocks.register import demo_dataset
from tasks.contracts.credit import CreditApplication, generate
from tasks.data.conformance import conform
from tasks.model.features import encode, encode_columns
from tasks.platform.contract import columns_of
from tasks.platform.errors import ContractViolation
from tasks.serving.validation import RequestContract, RequestRejected

FEATURES = columns_of(demo_dataset()).features
CONTRACT = RequestContract(CreditApplication, "defaulted", FEATURES)


def sent(rows: int = 40, seed: int = 3) -> list[dict[str, Any]]:
    frame = generate(rows, seed, datetime(2024, 5, 1)).drop("defaulted")
    loaded: list[dict[str, Any]] = orjson.loads(orjson.dumps(frame.to_dicts()))
    return loaded


def pandera_failures(records: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    frame = pl.DataFrame(records, strict=False).with_columns(pl.lit(None, pl.Int64).alias("defaulted"))
    try:
        conform(frame, CreditApplication)
    except ContractViolation as exc:
        return {(c["column"], c["check"]) for c in exc.summary["checks"]}
    return set()


def compiled_failures(records: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    try:
        CONTRACT.check(records)
    except RequestRejected as exc:
        return {(f.column, f.check) for f in exc.failures}
    return set()


def set_value(row: int, column: str, value: object) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records[row][column] = value

    return change


BREAKS = {
    "nothing": lambda records: None,
    "below a floor": set_value(2, "age", 17),
    "above a ceiling": set_value(5, "credit_score", 900),
    "zero where greater than zero": set_value(1, "annual_income", 0.0),
    "outside a set": set_value(0, "region", "atlantis"),
    "not a number": set_value(4, "loan_amount", "a lot"),
    "null where not nullable": set_value(3, "interest_rate", None),
    "null where nullable": set_value(3, "annual_income", None),
    "a time that is not one": set_value(6, "applied_at", "yesterday"),
    "a time with an offset": set_value(6, "applied_at", "2024-05-01T10:00:00+02:00"),
    "a duplicate id": set_value(7, "application_id", "app-3-0000000"),
    "an empty id": set_value(7, "application_id", ""),
    "history longer than the life": lambda r: r[8].update(age=30, credit_history_years=40.0),
    "a term not offered": set_value(9, "loan_term_months", 18),
    "the optional column missing": lambda records: [r.pop("applicant_sex") for r in records],
}


@pytest.mark.parametrize("name", BREAKS)
def test_every_break_is_judged_as_pandera_judges_it(name: str) -> None:
    records = sent()
    BREAKS[name](records)
    assert compiled_failures(records) == pandera_failures(records)


@pytest.mark.parametrize("name", BREAKS)
def test_the_python_way_accepts_only_what_the_polars_way_accepts_with_the_same_values(name: str) -> None:
    records = sent()
    BREAKS[name](records)
    columns = CONTRACT.rows.accept(records)
    if columns is None:
        return  # the polars way decides, as the test above checks
    assert not pandera_failures(records)
    frame = pl.DataFrame(records).with_columns(pl.lit(None, pl.Int64).alias("defaulted"))
    assert columns == conform(frame, CreditApplication).select(list(columns)).to_dict(as_series=False)


def test_plain_valid_records_take_the_python_way_and_encode_as_the_frame_does() -> None:
    records = sent()
    columns = CONTRACT.rows.accept(records)
    assert columns is not None and CONTRACT.check(records).columns == columns
    assert CONTRACT.rows.accept(sent(300)) is None  # more than ROWS_AT_MOST: one polars pass
    features = columns_of(demo_dataset())
    mapping = {"region": ["east", "north"], "home_ownership": ["OWN", "RENT"], "loan_purpose": ["car"]}  # unseen: NaN
    frame = conform(pl.DataFrame(records).with_columns(pl.lit(None, pl.Int64).alias("defaulted")), CreditApplication)
    encoded = encode_columns(columns, features, mapping)
    assert np.array_equal(encoded, encode(frame, features, mapping), equal_nan=True)


def test_valid_records_come_back_typed_as_the_contract_declares_them() -> None:
    typed = CONTRACT.check(sent(300)).as_frame()
    assert (
        typed.schema
        == conform(pl.DataFrame(sent()).with_columns(pl.lit(None, pl.Int64).alias("defaulted")), CreditApplication)
        .select(typed.columns)
        .schema
    )
    assert typed["applied_at"].dtype == pl.Datetime("us") and typed["defaulted"].null_count() == typed.height


def test_a_refusal_names_column_check_and_rows_of_every_failure_even_with_a_column_missing() -> None:
    records = [{k: v for k, v in r.items() if k != "region"} for r in sent(10)]
    records[2]["age"], records[6]["age"], records[4]["extra"] = 150, 101, 1
    with pytest.raises(RequestRejected) as refused:
        CONTRACT.check(records)
    named = {(f.column, f.check): f.rows for f in refused.value.failures}
    assert named == {
        ("region", "column_in_dataframe"): [],
        ("extra", "column_in_schema"): [],
        ("age", "less_than_or_equal_to(100)"): [2, 6],
    }


def test_no_records_is_refused_plainly() -> None:
    with pytest.raises(RequestRejected, match="at least one record"):
        CONTRACT.check([])
