"""Loading a dataset's configuration: a name no block has is answered with the names there are."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prefect import flow, task

from blocks.register import demo_dataset
from blocks.settings import Settings
from flows.train import train
from tasks.platform.config import DatasetConfig, load_dataset, only_dataset, unknown_dataset
from tasks.platform.errors import ConfigurationError


def test_an_unknown_dataset_suggests_the_closest_names_and_lists_them_all() -> None:
    message = unknown_dataset("credt", ["credit", "credit-eu", "sensors"])
    assert "no dataset block named 'credt'" in message
    assert "Did you mean 'credit' or 'credit-eu'?" in message
    assert "The dataset blocks are: credit, credit-eu, sensors." in message


def test_with_nothing_close_it_only_lists_the_names_and_with_none_says_so() -> None:
    assert "Did you mean" not in unknown_dataset("weather", ["credit"])
    assert "There is no dataset block yet." in unknown_dataset("credit", [])


@pytest.mark.integration
def test_loading_a_misspelt_dataset_names_the_block_it_probably_meant(stack_blocks: Settings) -> None:
    with pytest.raises(ConfigurationError, match=r"no dataset block named 'credti'\. Did you mean 'credit'"):
        load_dataset("credti")


def test_with_no_dataset_given_the_only_block_is_used_and_several_are_never_guessed() -> None:
    assert only_dataset(["sensors"]) == "sensors"
    with pytest.raises(ConfigurationError, match=r"no dataset given and the dataset blocks are credit, sensors: pass"):
        only_dataset(["credit", "sensors"])
    with pytest.raises(ConfigurationError, match="there is no dataset block yet"):
        only_dataset([])


@pytest.mark.integration
def test_a_flow_run_without_a_dataset_among_several_blocks_names_them_and_does_nothing(dataset: DatasetConfig) -> None:
    # the session's default `credit` block and this test's own: two, so none may be guessed
    with pytest.raises(ConfigurationError, match=rf"no dataset given and the dataset blocks are .*{dataset.name}"):
        train()


@pytest.mark.integration
def test_a_dataset_block_whose_contract_does_not_import_is_refused_when_saved(stack_blocks: Settings) -> None:
    spec = demo_dataset()
    spec.contract = "tasks.contracts.nowhere:Missing"
    with pytest.raises(ConfigurationError, match=r"cannot import contract 'tasks.contracts.nowhere:Missing'"):
        spec.save("credit-broken", overwrite=True)
    with pytest.raises(ConfigurationError, match="no dataset block named 'credit-broken'"):
        load_dataset("credit-broken")  # nothing was saved


@task
def decision_threshold(dataset: str) -> float:
    return load_dataset(dataset).promotion.decision_threshold


@flow
def threshold_before_and_after_an_edit(dataset: str, edit: Callable[[], object]) -> tuple[float, float]:
    before = decision_threshold(dataset)
    edit()
    return before, decision_threshold(dataset)


@pytest.mark.integration
def test_a_flow_run_reads_the_blocks_once_and_the_next_run_sees_an_edit(
    dataset: DatasetConfig, promotion_policy: Callable[..., DatasetConfig]
) -> None:
    saved = dataset.promotion.decision_threshold
    before, after = threshold_before_and_after_an_edit(dataset.name, lambda: promotion_policy(decision_threshold=0.7))
    assert before == after == saved  # one run, one configuration: not half an edit made while it ran
    assert threshold_before_and_after_an_edit(dataset.name, lambda: None) == (0.7, 0.7)
    assert load_dataset(dataset.name).promotion.decision_threshold == 0.7  # outside a run: read afresh
