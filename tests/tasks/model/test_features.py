"""Feature encoding and the training-window rule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from blocks.register import demo_dataset
from tasks.contracts.credit import generate
from tasks.data.lake import BatchMeta
from tasks.model.features import categorical_indices, encode, fit_mapping
from tasks.model.window import holdout_rows, plan_window, split_window
from tasks.platform.contract import columns_of
from tasks.platform.errors import ConfigurationError, NotEnoughData

SPEC = demo_dataset()
COLUMNS = columns_of(SPEC)


def test_mapping_is_sorted_and_encoding_is_float_in_feature_order() -> None:
    frame = generate(500, 3, datetime(2024, 1, 1))
    mapping = fit_mapping(frame, COLUMNS)
    assert mapping["region"] == sorted(frame.get_column("region").unique().to_list())
    assert "has_cosigner" not in mapping  # booleans need no mapping
    matrix = encode(frame, COLUMNS, mapping)
    assert matrix.dtype == np.float64 and matrix.shape == (500, len(COLUMNS.features))
    region = matrix[:, COLUMNS.features.index("region")]
    expected = [mapping["region"].index(v) for v in frame.get_column("region")]
    np.testing.assert_array_equal(region, expected)
    np.testing.assert_array_equal(matrix[:, COLUMNS.features.index("has_cosigner")], frame["has_cosigner"].cast(float))
    assert categorical_indices(COLUMNS, mapping) == [COLUMNS.features.index(c) for c in mapping]


def test_unseen_and_null_categories_and_missing_numbers_become_nan() -> None:
    frame = generate(10, 4, datetime(2024, 1, 1))
    mapping = fit_mapping(frame, COLUMNS)
    odd = frame.with_columns(
        pl.Series("region", ["mars"] * 5 + [None] * 5, dtype=pl.String), pl.lit(None, pl.Float64).alias("age")
    )
    matrix = encode(odd, COLUMNS, mapping)
    assert np.isnan(matrix[:, COLUMNS.features.index("region")]).all()
    assert np.isnan(matrix[:, COLUMNS.features.index("age")]).all()
    assert not np.isnan(matrix[:, COLUMNS.features.index("loan_amount")]).any()


def metas(labelled: list[int]) -> list[BatchMeta]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        BatchMeta(
            dataset="d",
            batch_id=f"b{i}",
            source_key=f"k{i}",
            sha256=f"h{i}",
            rows=n,
            labelled_rows=n,
            ingested_at=start + timedelta(hours=i),
        )
        for i, n in enumerate(labelled)
    ]


def test_normal_window_is_newest_batches_minus_newest_holdout_rows() -> None:
    spec = SPEC.model_copy(update={"train_batches": 3, "holdout_rows": 4000})
    plan = plan_window(metas([3000] * 5), spec, "d")
    assert plan.train_batches == ["b2", "b3", "b4"] and plan.reference_batches == plan.train_batches
    assert plan.holdout == {"b4": 3000, "b3": 1000}
    assert plan.trainable_rows == 5000 and plan.mixed_pre_onset == 0


def test_onset_window_mixes_older_batches_but_reference_stays_post_onset() -> None:
    spec = SPEC.model_copy(update={"holdout_rows": 1000, "min_onset_rows": 6000})
    plan = plan_window(metas([3000] * 6), spec, "d", onset_batch_id="b4")
    assert plan.reference_batches == ["b4", "b5"]
    assert plan.train_batches == ["b3", "b4", "b5"] and plan.mixed_pre_onset == 1  # 5000 post-onset rows < 6000
    assert plan.trainable_rows == 8000
    enough = plan_window(metas([3000] * 6), spec, "d", onset_batch_id="b2")
    assert enough.train_batches == ["b2", "b3", "b4", "b5"] and enough.mixed_pre_onset == 0


def test_a_long_episode_trains_on_its_newest_batches_only() -> None:
    spec = SPEC.model_copy(update={"train_batches": 3, "holdout_rows": 1000, "min_onset_rows": 6000})
    plan = plan_window(metas([3000] * 8), spec, "d", onset_batch_id="b1")
    assert plan.train_batches == plan.reference_batches == ["b5", "b6", "b7"]
    assert plan.mixed_pre_onset == 0


def test_holdout_and_training_rows_are_cut_per_batch_even_when_ids_repeat_across_batches() -> None:
    spec = SPEC.model_copy(update={"train_batches": 2, "holdout_rows": 500})
    plan = plan_window(metas([1000, 1000]), spec, "d")
    ids = pl.Series(COLUMNS.id, [f"row-{i}" for i in range(1000)])
    frames = {b: generate(1000, seed, datetime(2024, 1, 1)).with_columns(ids) for seed, b in enumerate(["b0", "b1"])}
    window = split_window(frames, plan, COLUMNS)  # every id is in both batches: an id join would mix them up
    assert window.holdout.equals(frames["b1"].tail(500))
    assert window.train.equals(pl.concat([frames["b0"], frames["b1"].head(500)]))
    both = holdout_rows(frames, {"b1": 300, "b0": 200})  # recorded newest batch first
    assert both.equals(pl.concat([frames["b0"].tail(200), frames["b1"].tail(300)]))


def test_batches_from_before_an_optional_column_joined_the_contract_stack_with_nulls_there() -> None:
    spec = SPEC.model_copy(update={"train_batches": 2, "holdout_rows": 500})
    plan = plan_window(metas([1000, 1000]), spec, "d")
    older = generate(1000, 0, datetime(2024, 1, 1)).drop("applicant_sex")
    frames = {"b0": older, "b1": generate(1000, 1, datetime(2024, 1, 2))}
    window = split_window(frames, plan, COLUMNS)
    assert window.train.height == 1500 and window.train["applicant_sex"].null_count() == 1000
    assert window.holdout.equals(frames["b1"].tail(500))


@pytest.mark.parametrize(
    ("labelled", "onset", "error", "message"),
    [
        ([2000], "", NotEnoughData, "2000 labelled rows in 1 batches"),
        ([2000], "", NotEnoughData, r"ingest \d+ more labelled rows, or lower `holdout_rows` in the dataset block 'd'"),
        ([3000] * 4, "nope", ConfigurationError, "onset batch 'nope'"),
    ],
)
def test_window_failures_name_the_numbers(
    labelled: list[int], onset: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        plan_window(metas(labelled), SPEC, "d", onset_batch_id=onset)
