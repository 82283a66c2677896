"""The model server: one FastAPI app serving every dataset's champion under its contract, with canary and shadow,
and its online log landed for the loop by a process of its own (README: Serving). `python -m deployments.serve` runs
it."""

from __future__ import annotations

import logging


def log_to_stderr() -> None:
    """The server's and the lander's log lines, in the service's log file, from INFO up (swaps and restarts are
    INFO): Prefect's logging setup, made when it is imported, already set the root logger to WARNING."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("driftloop").setLevel(logging.INFO)
