"""Peak memory of the current process, for benchmarks that measure a child process from the inside."""

from __future__ import annotations

import resource
from pathlib import Path


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
