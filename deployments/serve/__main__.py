"""`python -m deployments.serve`: the model server on DRIFTLOOP_HOST:DRIFTLOOP_SERVE_PORT, one process answering every
dataset, its lander (deployments.serve.lander) beside it."""

from __future__ import annotations

import uvicorn
from prometheus_client import disable_created_metrics

from blocks.settings import get_settings
from deployments.serve import log_to_stderr
from deployments.serve.app import create_app


def main() -> None:
    settings = get_settings()
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double every counter's output and no dashboard reads them
    log_to_stderr()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.serve_port, log_level="warning")


if __name__ == "__main__":
    main()
