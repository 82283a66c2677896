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
from tasks.model.window import WindowPlan, plan_window
from tasks.model.window_rows import assemble, holdout_rows, window_mapping
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


def two_batches(**update: int) -> tuple[WindowPlan, dict[str, pl.DataFrame]]:
    spec = SPEC.model_copy(update={"train_batches": 2, "holdout_rows": 500, **update})
    ids = pl.Series(COLUMNS.id, [f"row-{i}" for i in range(1000)])  # every id in both batches
    frames = {b: generate(1000, seed, datetime(2024, 1, 1)).with_columns(ids) for seed, b in enumerate(["b0", "b1"])}
    return plan_window(metas([1000, 1000]), spec, "d"), frames


def test_the_window_is_cut_per_batch_a_batch_at_a_time_even_when_ids_repeat_across_batches() -> None:
    plan, frames = two_batches()
    train = pl.concat([frames["b0"], frames["b1"].head(500)])  # an id join would mix the batches up
    mapping = window_mapping(frames.items(), plan, COLUMNS)
    assert mapping == fit_mapping(train, COLUMNS)

    window = assemble(iter(frames.items()), plan, COLUMNS, mapping, sample=10_000)

    assert window.holdout.equals(frames["b1"].tail(500))
    matrix, labels = encode(train, COLUMNS, mapping), train[COLUMNS.target].to_numpy().astype(float)
    validates = np.arange(train.height) % 5 == 4
    np.testing.assert_array_equal(window.training.fit, matrix[~validates])
    np.testing.assert_array_equal(window.training.fit_labels, labels[~validates])
    np.testing.assert_array_equal(window.training.validation, matrix[validates])
    np.testing.assert_array_equal(window.training.validation_labels, labels[validates])
    assert window.reference.equals(pl.concat(frames.values()))  # the pool is no larger than the sample
    both = holdout_rows(frames, {"b1": 300, "b0": 200})  # recorded newest batch first
    assert both.equals(pl.concat([frames["b0"].tail(200), frames["b1"].tail(300)]))


def test_the_reference_is_a_seeded_sample_of_the_pool_in_pool_order() -> None:
    plan, frames = two_batches()
    mapping = window_mapping(frames.items(), plan, COLUMNS)
    first, again = (assemble(frames.items(), plan, COLUMNS, mapping, sample=300).reference for _ in range(2))
    assert first.height == 300 and first.equals(again)
    pool = pl.concat(frames.values()).with_row_index("at")
    positions = pool.join(first, on=list(first.columns), how="semi", nulls_equal=True)["at"]
    assert positions.len() == 300 and positions.is_sorted() and positions.n_unique() == 300


def test_a_batch_that_holds_other_rows_than_its_metadata_is_refused_with_the_numbers() -> None:
    plan, frames = two_batches()
    mapping = window_mapping(frames.items(), plan, COLUMNS)
    grown = {**frames, "b0": pl.concat([frames["b0"], frames["b0"].head(10)])}
    with pytest.raises(ValueError, match="with batch b1 the training rows pass the 1500 the metadata counts"):
        assemble(grown.items(), plan, COLUMNS, mapping, sample=300)
    shrunk = {**frames, "b0": frames["b0"].head(990)}
    with pytest.raises(ValueError, match="hold 1490 training rows; the metadata counts 1500"):
        assemble(shrunk.items(), plan, COLUMNS, mapping, sample=300)
    unlabelled = frames["b1"].head(10).with_columns(pl.lit(None, pl.Int64).alias(COLUMNS.target))
    longer = {**frames, "b1": pl.concat([frames["b1"], unlabelled])}  # the same labelled rows, more rows
    with pytest.raises(ValueError, match="the reference batches hold 2010 rows; the metadata counts 2000"):
        assemble(longer.items(), plan, COLUMNS, mapping, sample=300)


def test_batches_from_before_an_optional_column_joined_the_contract_stack_with_nulls_there() -> None:
    plan, frames = two_batches()
    frames["b0"] = frames["b0"].drop("applicant_sex", "region")  # a sensitive column and a feature
    window = assemble(frames.items(), plan, COLUMNS, window_mapping(frames.items(), plan, COLUMNS), sample=10_000)
    assert window.reference.height == 2000 and window.reference["applicant_sex"].null_count() == 1000
    region = window.training.fit[:, COLUMNS.features.index("region")]
    assert np.isnan(region[:800]).all() and not np.isnan(region[800:]).any()
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
