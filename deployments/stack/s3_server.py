"""The object store of the local stack: SeaweedFS's S3 gateway on loopback, its data under the home.

`weed mini` runs master, volume, filer and the S3 gateway in one process. Objects survive restarts and `kill -9`
(nothing acknowledged is lost), conditional writes are honoured (`If-None-Match: *` and `If-Match`), and requests
must be signed with the stack's generated keys. The same software runs as separate processes on many machines, so
the local default and a self-hosted production store are one engine.

Every port is pinned: the S3 API on `s3_port`, the internal services and the Prometheus metrics (S3 requests by
operation and status, `metrics_url`) on the next nine ports, and the admin server's gRPC port at its HTTP port + 10000
(its embedded worker always dials that offset).
"""

from __future__ import annotations

import json

import httpx

from blocks.settings import Settings
from deployments.stack.services import BIN, Service, free_port_block
from deployments.stack.state import LocalCredentials

INTERNAL = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3.grpc", "admin", "metrics")
SERVERS = ("master", "volume", "filer", "admin")  # given their HTTP port as `-<name>.port`
ADMIN_GRPC_OFFSET = 10000
REQUESTS_METRIC = "SeaweedFS_s3_request_total"
PORT_BLOCK = 1 + len(INTERNAL)  # s3_port and the consecutive ports after it


def free_s3_port() -> int:
    """An S3 port whose whole block (and the admin gRPC port) is free: for tests and benchmarks."""
    return free_port_block(PORT_BLOCK, offset=ADMIN_GRPC_OFFSET)


STOP_SECONDS = 5.0  # the volume server's graceful stop sometimes hangs ~30 s; SIGKILL loses nothing acknowledged


def internal_ports(s3_port: int) -> dict[str, int]:
    """The internal listeners next to the S3 port, plus the admin gRPC port at its fixed offset."""
    ports = {name: s3_port + offset for offset, name in enumerate(INTERNAL, start=1)}
    return ports | {"admin.grpc": ports["admin"] + ADMIN_GRPC_OFFSET}


def metrics_url(settings: Settings) -> str:
    """SeaweedFS's Prometheus metrics; `SeaweedFS_s3_request_total` counts the S3 requests it answered."""
    return f"http://{settings.host}:{internal_ports(settings.s3_port)['metrics']}/metrics"


def requests_answered(settings: Settings) -> int:
    """Every S3 request the server has answered since it started, whoever sent it (boto3, polars, MLflow)."""
    lines = httpx.get(metrics_url(settings), timeout=10).text.splitlines()
    return sum(int(float(line.rpartition(" ")[2])) for line in lines if line.startswith(REQUESTS_METRIC + "{"))


def identities(credentials: LocalCredentials) -> str:
    """SeaweedFS's S3 identities: one, with the stack's keys; an unsigned or wrongly signed request gets 403."""
    actions = ["Admin", "Read", "Write", "List", "Tagging"]
    keys = {"accessKey": credentials.access_key_id, "secretKey": credentials.secret_access_key}
    return json.dumps({"identities": [{"name": "driftloop", "credentials": [keys], "actions": actions}]})


def service(settings: Settings, credentials: LocalCredentials | None = None) -> Service:
    data = settings.home / "s3"
    config = settings.home / "s3-identities.json"
    ports = internal_ports(settings.s3_port)
    return Service(
        name="s3",
        command=[
            str(BIN / "weed"),
            f"-logdir={settings.home / 'logs'}",
            "mini",
            f"-dir={data}",
            f"-ip={settings.host}",
            f"-ip.bind={settings.host}",
            f"-s3.port={settings.s3_port}",
            *[f"-{name}.port={ports[name]}" for name in SERVERS],
            *[f"-{name.split('.')[0]}.port.grpc={port}" for name, port in ports.items() if name.endswith(".grpc")],
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-metricsPort={ports['metrics']}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.autoCreateBucket=false",  # a write to a missing bucket is an error, not a new bucket
            "-volume.preStopSeconds=0",
            f"-filer.localSocket={data / 'filer.sock'}",
            f"-s3.localSocket={data / 's3.sock'}",
            f"-s3.config={config}",
        ],
        health_url=f"http://{settings.host}:{settings.s3_port}/healthz",  # opens once master, volume, filer are up
        log_file=settings.home / "logs" / "s3.log",
        port=settings.s3_port,
        extra_ports=tuple(ports.values()),
        files={config: identities(credentials)} if credentials else {},
        directories=(data,),
        stop_seconds=STOP_SECONDS,
    )
