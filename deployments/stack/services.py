"""A local service as a process: how it starts, when it is healthy, how it stops, and free ports.

Every service module of the stack describes its process as a `Service`; the stack and the test fixtures start them
through here, so tests start services exactly as users do.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from deployments.stack.state import write_private

BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """A local service could not start or did not become healthy; the message names it and its log file."""


@dataclass(frozen=True)
class Service:
    """A process to start, the URL it answers on, and where its output goes."""

    name: str
    command: list[str]
    health_url: str
    log_file: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None  # the health check of a service that speaks no HTTP
    # Private files written (mode 0600) just before the process starts: configs that hold or govern secrets.
    files: dict[Path, str] = field(default_factory=dict, repr=False)
    directories: tuple[Path, ...] = ()  # created private (0700) before the start: data the service keeps
    extra_ports: tuple[int, ...] = ()  # other listeners that must be free too
    stop_seconds: float = 15.0  # how long a stop waits after SIGTERM before SIGKILL

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, *self.extra_ports) if self.port else self.extra_ports

    def taken_ports(self, host: str) -> list[int]:
        return [port for port in self.ports if not port_is_free(host, port)]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_block(size: int, host: str = "127.0.0.1", offset: int = 10000, low: int = 10000) -> int:
    """A port p with p .. p+size-1 free, and p+size-1+offset free too (the S3 server's admin gRPC port), chosen
    below the kernel's ephemeral range so a later `free_port` cannot land in the block."""
    for _ in range(200):
        base = random.randrange(low, low + 9000)
        wanted = [*range(base, base + size), base + size - 1 + offset]
        if all(port_is_free(host, port) for port in wanted):
            return base
    raise ServiceError(f"no block of {size} free ports found on {host}")


def is_up(service: Service) -> bool:
    return service.ready() if service.ready is not None else is_healthy(service.health_url)


def is_healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def start(service: Service, env: dict[str, str], host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start the service in its own session, its output appended to its log file."""
    taken = service.taken_ports(host)
    if taken:
        raise ServiceError(
            f"{service.name}: port {', '.join(map(str, taken))} on {host} already in use; set another port "
            f"(DRIFTLOOP_{service.name.upper()}_PORT) or stop what holds it"
        )
    for directory in service.directories:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    for path, text in service.files.items():
        write_private(path, text)
    with service.log_file.open("ab") as log:
        return subprocess.Popen(
            service.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env | service.env,
            start_new_session=True,
        )


def wait_healthy(service: Service, process: subprocess.Popen[bytes] | None, timeout: float = 120.0) -> None:
    """Wait until the service answers its health URL; raise ServiceError naming it and its log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(service):
            return
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"{service.name} exited with code {process.returncode} while starting; see {service.log_file}"
            )
        time.sleep(0.3)
    raise ServiceError(
        f"{service.name} did not answer {service.health_url} within {timeout:.0f}s; see {service.log_file}"
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a started service and everything it spawned."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
