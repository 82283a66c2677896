"""The object store of the local stack: an S3 endpoint on loopback."""

from __future__ import annotations

import sys

from blocks.settings import Settings
from deployments.stack.services import Service


def service(settings: Settings) -> Service:
    return Service(
        name="s3",
        command=[sys.executable, "-m", "moto.server", "-H", settings.host, "-p", str(settings.s3_port)],
        health_url=f"http://{settings.host}:{settings.s3_port}/moto-api/",
        log_file=settings.home / "logs" / "s3.log",
        port=settings.s3_port,
    )
