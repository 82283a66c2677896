"""`make lock`: pin the installed environment in two lock files, names and versions only.

`requirements.lock` is what a worker image installs: the closure of the project's runtime dependencies
(`[project].dependencies`). `requirements-dev.lock` is the closure of the `dev` extra (pytest, mypy, ruff,
import-linter and theirs) less what the runtime lock has. Anything else installed by hand is left out. Nothing names
an index, a host or a path.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from blocks.settings import PROJECT_ROOT

HEADER = "# Exact versions (names and versions only). Regenerate with: make lock\n"
PROJECT = "driftloop"


def closure(requirements: list[str]) -> set[str]:
    """Canonical names of the installed distributions `requirements` pull in, extras included."""
    wanted = [Requirement(text) for text in requirements]
    seen: set[tuple[str, str]] = set()  # (name, extra): `uvicorn` seen first must not hide `uvicorn[standard]`
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        extras = {extra for extra in requirement.extras or {""} if (name, extra) not in seen}
        if not extras:
            continue
        seen |= {(name, extra) for extra in extras}
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # reported by `write` as not installed
        for text in requires:
            nested = Requirement(text)
            if nested.marker is None or any(nested.marker.evaluate({"extra": extra}) for extra in extras):
                wanted.append(nested)
    return {name for name, _ in seen}


def installed() -> dict[str, str]:
    """Every installed distribution but the project itself: canonical name -> `name==version`."""
    pins: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if canonicalize_name(name) != PROJECT:
            pins[canonicalize_name(name)] = f"{name}=={distribution.version}"
    return pins


def write(root: Path = PROJECT_ROOT) -> None:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    runtime = closure(project["dependencies"])
    dev = closure(project["optional-dependencies"]["dev"]) - runtime
    pins = installed()
    for filename, names in (("requirements.lock", runtime), ("requirements-dev.lock", dev)):
        missing = names - pins.keys()
        if missing:
            raise SystemExit(f"{filename}: not installed: {', '.join(sorted(missing))}; run `make setup-dev` first")
        lines = sorted((pins[name] for name in names), key=str.lower)
        (root / filename).write_text(HEADER + "\n".join(lines) + "\n")


if __name__ == "__main__":
    write()
