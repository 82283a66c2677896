"""The fault suite's table: each case records one row (case, faults injected, objects landed, lost, duplicated,
recovery seconds); `make chaos` passes `--chaos-results bench/results/chaos.json` and the rows are merged into it by
case, with the machine they ran on. Without the option (`make test` runs the fastest cases) nothing is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import machine
from tasks.platform.config import DatasetConfig
from tests.chaos.invariants import Tally, recover, tally


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-results", default="", help="merge the fault cases' rows into this JSON file")


@dataclass
class ChaosLog:
    """The rows of the cases that ran in this session."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def recovered(
        self, case: str, faults: str, cfg: DatasetConfig, landed: list[str], since: datetime, fault_at: float
    ) -> Tally:
        """After a fault at `fault_at` (time.monotonic()): reconcile until the window is whole, check the
        invariants for what the case landed since `since`, and record the row; the tally, for the case to assert."""
        recover(cfg)
        recovery_seconds = time.monotonic() - fault_at
        found = tally(cfg, landed, since)
        self.record(case, faults, found, recovery_seconds)
        return found

    def record(self, case: str, faults: str, found: Tally, recovery_seconds: float) -> None:
        self.rows.append(
            {
                "case": case,
                "faults": faults,
                "landed": found.landed,
                "lost": len(found.lost),
                "duplicated": len(found.duplicated),
                "recovery_seconds": round(recovery_seconds, 1),
                "details": [*found.lost, *found.duplicated],
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )


@pytest.fixture(scope="session")
def chaos_log(request: pytest.FixtureRequest) -> Iterator[ChaosLog]:
    log = ChaosLog()
    yield log
    target = str(request.config.getoption("--chaos-results"))
    if target and log.rows:
        write(Path(target), log.rows)


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    """Merge by case: a partial run replaces its own rows and keeps the others."""
    kept = json.loads(path.read_text())["rows"] if path.exists() else []
    cases = {row["case"] for row in rows}
    merged = sorted([row for row in kept if row["case"] not in cases] + rows, key=lambda row: row["case"])
    path.write_text(json.dumps({"machine": machine(), "rows": merged}, indent=2) + "\n")


def table(rows: list[dict[str, Any]]) -> str:
    """The README's table of the fault suite."""
    lines = ["| case | faults injected | landed | lost | duplicated | recovery s |", "|---|---|---|---|---|---|"]
    for row in rows:
        cells = [row["case"], row["faults"], row["landed"], row["lost"], row["duplicated"], row["recovery_seconds"]]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m tests.chaos_results`: print the table for the README
    print(table(json.loads((Path(__file__).parents[1] / "bench/results/chaos.json").read_text())["rows"]))
