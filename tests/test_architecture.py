"""The architecture is checked, not hoped for: import-linter rejects a pure module that does I/O, and mypy rejects a
wrong-typed argument to a task called from a flow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

from blocks.settings import PROJECT_ROOT

PACKAGES = ("tasks", "flows", "blocks", "deployments")


def _copy_of_the_tree(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", "pyproject.toml", "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_lint_imports_fails_when_a_pure_module_imports_prefect(tmp_path: Path) -> None:
    tree = _copy_of_the_tree(tmp_path)
    gates = tree / "tasks" / "model" / "gates.py"
    gates.write_text(gates.read_text() + "\nimport prefect  # noqa: E402\n")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Pure cores do no I/O" in result.stdout and "BROKEN" in result.stdout
    assert "tasks.model.gates -> prefect" in result.stdout


def test_lint_imports_fails_when_a_flow_imports_a_core_module(tmp_path: Path) -> None:
    tree = _copy_of_the_tree(tmp_path)
    train = tree / "flows" / "train.py"
    train.write_text(train.read_text() + "\nfrom tasks.model.training import plan_window  # noqa: E402, F401\n")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "flows.train -> tasks.model.training" in result.stdout


BAD_FLOW = """
from prefect import flow

from tasks.data.steps.ingest import ingest_object


@flow
def wrong() -> None:
    ingest_object("credit", 42)
"""


def test_mypy_rejects_a_wrong_typed_argument_to_a_task_in_a_flow(tmp_path: Path) -> None:
    snippet = tmp_path / "bad_flow.py"
    snippet.write_text(BAD_FLOW)

    stdout, _stderr, status = mypy_api.run(
        [
            str(snippet),
            "--config-file",
            str(PROJECT_ROOT / "pyproject.toml"),
            "--cache-dir",
            str(PROJECT_ROOT / ".mypy_cache"),
        ]
    )

    assert status == 1, stdout
    assert 'bad_flow.py:9: error: No overload variant of "__call__" of "Task" matches argument types "str", "int"' in (
        stdout
    )
    assert "def __call__(self, dataset: str, key: str) -> IngestOutcome" in stdout


@pytest.mark.xdist_group("stack")
def test_a_group_of_tests_is_kept_together_under_loadgroup(request: pytest.FixtureRequest) -> None:
    """`make test` runs `--dist loadgroup` so that the tests sharing a stack or a model server run on one worker;
    pytest-xdist marks a grouped test by suffixing its id, which some pytest versions no longer read."""
    grouped = bool(getattr(request.config.option, "loadgroup", False))
    assert request.node.nodeid.endswith("@stack") == grouped, request.node.nodeid
