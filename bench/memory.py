"""Peak memory of the current process, for benchmarks that measure a child process from the inside."""

from __future__ import annotations

import argparse
import json
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak RSS so far: VmHWM of its own address space on Linux.

    Not ru_maxrss of a child: exec records the spawning process's high-water mark in the child's ru_maxrss (and so in
    the parent's RUSAGE_CHILDREN), which would report the parent's peak (generated frames, Evidently) instead.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_or_run(
    doc: str | None,
    run: Callable[[float], list[dict[str, Any]]],
    child: Callable[[str, str], None],
    names: tuple[str, str],
) -> None:
    """The command line of a benchmark that measures itself in a child: `--child A B` is the child's half, else
    `run(--scale)` and print its rows."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--child", nargs=2, metavar=names)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(json.dumps(run(args.scale), indent=2))
