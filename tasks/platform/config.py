"""Everything a task needs about one dataset, loaded from its blocks in one call."""

from __future__ import annotations

import difflib
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TypeVar
from uuid import UUID

import pandera.polars as pa
from prefect.blocks.core import Block
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound

from blocks import names
from blocks.models import DatasetSpec, DriftPolicy, MlflowTracking, PromotionPolicy, StorageLocation
from tasks.platform.contract import Columns, columns_of, load_contract
from tasks.platform.errors import ConfigurationError
from tasks.platform.store import Store, open_store


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset's block and the shared blocks, with the contract and store derived from them."""

    name: str
    spec: DatasetSpec
    storage: StorageLocation
    mlflow: MlflowTracking
    drift: DriftPolicy
    promotion: PromotionPolicy

    @cached_property
    def store(self) -> Store:
        return open_store(self.storage)

    @cached_property
    def contract(self) -> type[pa.DataFrameModel]:
        return load_contract(self.spec.contract)

    @cached_property
    def columns(self) -> Columns:
        return columns_of(self.spec)

    @property
    def model_name(self) -> str:
        return self.spec.model_name

    @property
    def experiment(self) -> str:
        return f"{self.mlflow.experiment_prefix}-{self.name}"


B = TypeVar("B", bound=Block)


def load_block(block_type: type[B], name: str, client: SyncPrefectClient | None = None) -> B:
    """Load a block document synchronously, typed as its class; a missing one is the ValueError `Block.load` raises."""
    slug = block_type.get_block_type_slug()
    with _reading(client) as reader:
        try:
            document = reader.read_block_document_by_name(name, slug)
        except ObjectNotFound as exc:
            raise ValueError(f"Unable to find block document named {name} for block type {slug}") from exc
    return block_type._from_block_document(document)


def _reading(client: SyncPrefectClient | None) -> AbstractContextManager[SyncPrefectClient]:
    """`client`, or a client of its own for one read. Several reads share one: each client costs a TLS context,
    ~40 ms of CPU, even for a plain-HTTP API."""
    return nullcontext(client) if client is not None else get_client(sync_client=True)


EVERY_DATASET = "*"


def dataset_names(dataset: str) -> list[str]:
    """`[dataset]`, or for `*` the name of every saved dataset block (so a new dataset needs no deployment edit)."""
    if dataset != EVERY_DATASET:
        return [dataset]
    with get_client(sync_client=True) as client:
        documents = client.read_block_documents_by_type(DatasetSpec.get_block_type_slug(), include_secrets=False)
    return sorted(document.name for document in documents if document.name and not document.is_anonymous)


def documents_of(block_type: type[B], client: SyncPrefectClient | None = None) -> dict[str, B]:
    """Every saved (named) document of a block type, in one request: what a long-running reader re-reads often."""
    with _reading(client) as reader:
        documents = reader.read_block_documents_by_type(block_type.get_block_type_slug(), include_secrets=True)
    return {
        document.name: block_type._from_block_document(document)
        for document in documents
        if document.name and not document.is_anonymous
    }


def load_every_dataset() -> dict[str, DatasetConfig]:
    """`load_dataset` for every dataset block at once: the dataset blocks in one request, the shared ones once."""
    with get_client(sync_client=True) as client:
        specs = documents_of(DatasetSpec, client)
        if not specs:
            return {}
        shared = _shared_blocks(client)
    return {name: DatasetConfig(name, spec, *shared) for name, spec in sorted(specs.items())}


def _shared_blocks(client: SyncPrefectClient) -> tuple[StorageLocation, MlflowTracking, DriftPolicy, PromotionPolicy]:
    """The blocks every dataset shares, read through one client."""
    return (
        load_block(StorageLocation, names.STORAGE, client),
        load_block(MlflowTracking, names.MLFLOW, client),
        load_block(DriftPolicy, names.DRIFT_POLICY, client),
        load_block(PromotionPolicy, names.PROMOTION_POLICY, client),
    )


def dataset_named(dataset: str) -> str:
    """`dataset`, or when none is given the only dataset block there is. With several, none is guessed: a forgotten
    `-p dataset=...` must not train, promote or roll back some other dataset's model."""
    return dataset or only_dataset(dataset_names(EVERY_DATASET))


def only_dataset(existing: list[str]) -> str:
    """The one dataset block name, or a ConfigurationError that lists them (or says there is none)."""
    if len(existing) == 1:
        return existing[0]
    there = f"the dataset blocks are {', '.join(existing)}" if existing else "there is no dataset block yet"
    raise ConfigurationError(f"no dataset given and {there}: pass one, e.g. `-p dataset=<name>`")


def load_spec(dataset: str, client: SyncPrefectClient | None = None) -> DatasetSpec:
    """Load the dataset block; a missing one is a ConfigurationError that names it."""
    try:
        return load_block(DatasetSpec, dataset, client)
    except ValueError as exc:
        raise ConfigurationError(unknown_dataset(dataset, dataset_names(EVERY_DATASET))) from exc


def unknown_dataset(dataset: str, existing: list[str]) -> str:
    """What to say of a dataset name no block has: the closest names, and every name there is."""
    close = difflib.get_close_matches(dataset, existing, n=3, cutoff=0.6)
    guess = f" Did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
    there = f" The dataset blocks are: {', '.join(existing)}." if existing else " There is no dataset block yet."
    return f"no dataset block named {dataset!r}.{guess}{there} A new dataset is a saved 'driftloop Dataset' block."


def load_dataset(dataset: str) -> DatasetConfig:
    """Load the blocks of `dataset`; a missing block is a ConfigurationError that names it.

    Within a flow run they are read once, by its first task that asks: every later task of the run (a retry too)
    works with the configuration the run started with, not half an edit made meanwhile, and a run's tasks do not
    each wait on five block reads. Outside a run (the CLI, the model server, tests) every call reads them afresh."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return _read_dataset(dataset)
    return _dataset_of_run(context.flow_run.id, dataset)


@lru_cache(maxsize=16)  # a worker runs one flow run per process; in-process runs (tests, `serve`) come and go
def _dataset_of_run(flow_run_id: UUID, dataset: str) -> DatasetConfig:  # noqa: ARG001  # the run is the cache key
    return _read_dataset(dataset)


def _read_dataset(dataset: str) -> DatasetConfig:
    dataset = dataset_named(dataset)
    with get_client(sync_client=True) as client:
        return DatasetConfig(dataset, load_spec(dataset, client), *_shared_blocks(client))
