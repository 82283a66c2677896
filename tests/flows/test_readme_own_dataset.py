"""README's "Bring your own dataset", followed as a user would: its two Python blocks read from README.md itself, a
2,000-row CSV landed under landing/sensors/, then ingest, train and promote in-process against real S3 and MLflow."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl
import pytest

from blocks.models import DatasetSpec
from blocks.settings import PROJECT_ROOT, Settings
from flows.promote import promote
from flows.train import train
from tasks.data.lake import landing_prefix, quarantine_prefix
from tasks.data.lake_index import list_batches
from tasks.model.gates import PromotionDecision
from tasks.model.registry import CHALLENGER, CHAMPION, client_for
from tasks.platform.config import DatasetConfig, load_dataset
from tasks.platform.errors import NotEnoughData
from tasks.platform.specs import DatasetFields
from tests.flows.test_ingest_flow import run_ingest

pytestmark = pytest.mark.integration

README = PROJECT_ROOT / "README.md"
SECTION = "## Bring your own dataset"
ROWS = 2000  # the "small CSV"
DAY = datetime(2026, 5, 1)  # the README's file is readings-2026-05-01.csv


def readme_blocks() -> tuple[str, str]:
    """The section's two Python blocks, dedented out of their list items: the contract module and the block snippet."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = [textwrap.dedent(b) for b in re.findall(r"^ *```python\n(.*?)^ *```$", section, re.DOTALL | re.MULTILINE)]
    assert len(blocks) == 2, f"expected the contract and the block snippet, found {len(blocks)} Python blocks"
    return blocks[0], blocks[1]


@pytest.fixture
def readme_dataset(stack_blocks: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatasetConfig]:
    """The README's contract importable under the module path its snippet names (from a temp dir added to the parent
    package's __path__, nothing written into the repository), and its snippet run as written, twice."""
    contract, snippet = readme_blocks()
    found = re.search(r'contract="([\w.]+):\w+"', snippet)
    name = re.search(r'\.save\("([^"]+)"', snippet)
    assert found and name, snippet
    module = found.group(1)
    parent, _, leaf = module.rpartition(".")
    (tmp_path / f"{leaf}.py").write_text(contract)
    package = importlib.import_module(parent)
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    try:
        for _ in range(2):  # overwrite=True: following the step again changes nothing
            exec(compile(snippet, f"{README}: {SECTION}", "exec"), {"__name__": "readme_snippet"})
        yield load_dataset(name.group(1))
    finally:
        with suppress(ValueError):  # ValueError: never saved, the snippet failed
            DatasetSpec.delete(name.group(1))  # a later `dataset="*"` ingest must not meet a contract that is gone
        sys.modules.pop(module, None)
        if hasattr(package, leaf):
            delattr(package, leaf)


def readings(rows: int = ROWS, seed: int = 2026) -> pl.DataFrame:
    """A day of sensor readings, times as a CSV writes them; a fault is likelier when hot, and in the south."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["north", "south"], rows, p=[0.55, 0.45])
    temperature = np.round(rng.normal(np.where(site == "south", 27.0, 17.0), 9.0), 1).clip(-40, 60)
    logit = 0.22 * (temperature - 32.0) + np.where(site == "south", 0.8, -0.4)
    faulty = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame(
        {
            "reading_id": [f"rd-{i:05d}" for i in range(rows)],
            "read_at": [(DAY + timedelta(seconds=43 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(rows)],
            "temperature": temperature,
            "site": site,
            "faulty": faulty,
        }
    )


def land_csv(cfg: DatasetConfig, filename: str, frame: pl.DataFrame) -> str:
    """Step 3 without the AWS CLI: the same object put under landing/<dataset>/ with the tests' store."""
    key = f"{landing_prefix(cfg.name)}{filename}"
    cfg.store.put(key, frame.write_csv().encode())
    return key


def test_the_readme_section_run_as_written_on_a_2000_row_csv_trains_and_promotes(
    readme_dataset: DatasetConfig,
) -> None:
    cfg = readme_dataset
    assert (cfg.name, cfg.model_name, cfg.spec.holdout_rows, cfg.spec.train_batches) == (
        "sensors",
        "sensors-faulty",
        500,
        4,
    )
    key = land_csv(cfg, f"readings-{DAY:%Y-%m-%d}.csv", readings())

    state, outcomes = run_ingest(cfg.name)

    assert state.is_completed(), state.message
    assert [(o.key, o.outcome, o.rows, o.labelled_rows) for o in outcomes] == [(key, "ingested", ROWS, ROWS)]
    (batch,) = [m for m in list_batches(cfg.store, cfg.name) if m.source_key == key]
    assert (batch.rows, batch.event_time_min, batch.event_time_max) == (ROWS, DAY, DAY + timedelta(seconds=43 * 1999))

    trained = train(dataset=cfg.name, return_state=True)
    version = cast(str, trained.result())  # a flow that returns a State: its result is the state's data
    client = client_for(cfg)
    registered = client.get_model_version("sensors-faulty", version)
    assert trained.is_completed() and registered.tags["driftloop.contract"] == "tasks.contracts.sensors:Reading"
    assert client.get_model_version_by_alias("sensors-faulty", CHALLENGER).version == version

    promoted = promote(dataset=cfg.name, return_state=True)  # no version: the `challenger` alias, as in step 4
    decision = cast(PromotionDecision, promoted.result())
    assert promoted.is_completed() and promoted.name == "Promoted", promoted.message
    assert decision.promoted and decision.challenger_version == version
    assert client.get_model_version_by_alias("sensors-faulty", CHAMPION).version == version


def test_a_75_degree_reading_is_quarantined_naming_the_check_its_count_and_the_row(
    readme_dataset: DatasetConfig,
) -> None:
    cfg = readme_dataset
    frame = readings()
    hot = frame.with_columns(frame.get_column("temperature").scatter(1234, 75.0))
    key = land_csv(cfg, f"readings-{DAY + timedelta(days=1):%Y-%m-%d}.csv", hot)

    state, outcomes = run_ingest(cfg.name)

    assert state.is_failed() and key in (state.message or "")
    ((outcome_key, outcome, batch_id),) = [(o.key, o.outcome, o.batch_id) for o in outcomes]
    assert (outcome_key, outcome) == (key, "quarantined")
    errors = cfg.store.get_json(quarantine_prefix(cfg.name, batch_id) + "errors.json")
    check = "less_than_or_equal_to(60)"
    assert errors["checks"] == [{"check": check, "column": "temperature", "count": 1}]
    # the failing row by number and by the id column
    assert errors["samples"] == [
        {"column": "temperature", "check": check, "failure_case": "75.0", "index": 1234, "reading_id": "rd-01234"}
    ]
    assert "upload it under a new name" in errors["to_fix"]
    assert all(m.source_key != key for m in list_batches(cfg.store, cfg.name))


def test_the_same_csv_with_the_default_holdout_is_not_enough_data_naming_the_field_to_lower(
    readme_dataset: DatasetConfig,
) -> None:
    fields = set(DatasetFields.model_fields) - {"holdout_rows"}  # the snippet without `holdout_rows=500`
    name = f"{readme_dataset.name}-default-holdout"
    DatasetSpec(**readme_dataset.spec.model_dump(include=fields)).save(name, overwrite=True)
    try:
        cfg = load_dataset(name)
        land_csv(cfg, f"readings-{DAY:%Y-%m-%d}.csv", readings())
        assert run_ingest(name)[0].is_completed()
        with pytest.raises(NotEnoughData) as raised:
            train(dataset=name)
    finally:
        DatasetSpec.delete(name)
    assert str(raised.value) == (
        f"{name}: 2000 labelled rows in 1 batches; training needs 4000 holdout + 1000 training rows. Land and ingest "
        f"3000 more labelled rows, or lower `holdout_rows` in the dataset block {name!r} (to 1000 at most with these "
        "rows)"
    )
