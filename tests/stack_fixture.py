"""The whole local stack for end-to-end tests: `driftloop up` on free ports and a temp home, `driftloop down` after.

The CLI runs as a subprocess with an explicit environment, so the stack's processes never see the session-wide
Prefect test harness. Code in the test process that talks to this stack's API must run inside `stack_api(settings)`;
subprocesses should get `deployments.stack.environment.stack_environment(settings)`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.settings import PROJECT_ROOT, Settings, process_environment
from deployments.stack import s3_server, services
from deployments.stack.environment import OWN_PREFIXES, driftloop_variables, prefect_home, stack_api

__all__ = ["stack_api"]  # tests point their client at the stack with it


def new_stack_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a private stack: free loopback ports and the given home."""
    fields: dict[str, Any] = {
        "home": home,
        "prefect_port": services.free_port(),
        "s3_port": s3_server.free_s3_port(),
        "mlflow_port": services.free_port(),
        "postgres_port": services.free_port(),
        "serve_port": services.free_port(),
        "bucket": "driftloop-stack",
    }
    return Settings(**(fields | overrides))


def cli_environment(settings: Settings) -> dict[str, str]:
    """The environment for running `driftloop` against this stack: only DRIFTLOOP_* and PREFECT_HOME are ours."""
    base = {key: value for key, value in process_environment().items() if not key.startswith(OWN_PREFIXES)}
    return base | driftloop_variables(settings) | {"PREFECT_HOME": prefect_home(settings)}


def run_cli(settings: Settings, *arguments: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """Run `driftloop <arguments>` against the stack of `settings`, capturing its output."""
    return run_python(["-m", "deployments.cli", *arguments], cli_environment(settings), timeout)


def run_python(arguments: list[str], env: dict[str, str], timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with `arguments` in the project root and exactly `env`, capturing its output."""
    return subprocess.run(
        [sys.executable, *arguments],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


STACK = "local_stack"
_running: list[Settings] = []  # the session's stack while it runs
_stopped: list[Settings] = []


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A running local stack (S3, MLflow, Prefect server, one worker, the flows deployed); stopped after the last
    test that needs it (see `pytest_runtest_teardown`), or at the end of the session."""
    settings = new_stack_settings(tmp_path_factory.mktemp("stack") / "home")
    started = run_cli(settings, "up")
    _running.append(settings)
    try:
        if started.returncode != 0:
            pytest.fail(f"driftloop up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
        yield settings
    finally:
        stop_stack()


def stop_stack() -> None:
    """`driftloop down --purge` the session's stack, if it runs (the PostgreSQL cluster may live outside the home)."""
    while _running:
        settings = _running.pop()
        _stopped.append(settings)
        stopped = run_cli(settings, "down", "--purge")
        assert stopped.returncode == 0, stopped.stderr


def uses_stack(item: pytest.Item | None) -> bool:
    return item is not None and STACK in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the stack one after another, where the first of them was: a stack left idle while the other
    tests run would take a fifth of a core from them (its Prefect server, model server and MLflow poll)."""
    first = next((index for index, item in enumerate(items) if uses_stack(item)), None)
    if first is None:
        return
    on_stack = [item for item in items if uses_stack(item)]
    rest = [item for item in items[first:] if not uses_stack(item)]
    items[first:] = on_stack + rest


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack once the last test on it is done: under `--dist loadgroup` they all run on one worker (their
    group `stack`), in the order above, so the next test not needing it means no later one does."""
    if uses_stack(item) and not uses_stack(nextitem):
        stop_stack()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if uses_stack(item) and _stopped:
        pytest.fail(f"{item.nodeid} needs the stack after it was stopped: mark it xdist_group('stack')")
