"""PostgreSQL for the local Prefect server, when the machine has PostgreSQL's server programs.

On SQLite the server serialises every write: a drift automation's `run-deployment` action meets the trigger's own open
transaction, gets "database is locked" and retries two seconds later, and under load an action can fail outright.
PostgreSQL removes both. Without PostgreSQL's programs the server stays on SQLite (`database_url` returns None).

PostgreSQL refuses to run as root, so a root user's cluster runs as the `postgres` user, in a directory that user owns.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache, partial
from pathlib import Path

from blocks.settings import Settings
from deployments.stack.services import Service, ServiceError

DATABASE = "postgres"  # initdb's own database: a private cluster needs no other
OWNER = "postgres"


@cache
def bin_dir() -> Path | None:
    """Where `initdb` and `postgres` are: on PATH, or where `pg_config` says (Debian keeps them off PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    directory = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    return directory if (directory / "initdb").is_file() else None


@cache
def available() -> bool:
    """True if the local server can use PostgreSQL: its programs exist and, as root, the `postgres` user does."""
    if bin_dir() is None:
        return False
    return not _as_root() or (shutil.which("runuser") is not None and _owner_exists())


def database_url(settings: Settings) -> str | None:
    """The Prefect server's database URL, or None to keep Prefect's SQLite default."""
    if not available():
        return None
    return f"postgresql+asyncpg://{OWNER}@{settings.host}:{settings.postgres_port}/{DATABASE}"


def data_dir(settings: Settings) -> Path:
    """The cluster's directory: in the home, or for root in a temp directory the `postgres` user can reach."""
    if not _as_root():
        return settings.home / "postgres"
    digest = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"driftloop-postgres-{digest}"


def service(settings: Settings) -> Service:
    directory = bin_dir() or Path()
    return Service(
        name="postgres",
        command=_as_owner(
            [
                *[str(directory / "postgres"), "-D", str(data_dir(settings)), "-p", str(settings.postgres_port)],
                *["-c", f"listen_addresses={settings.host}", "-c", "unix_socket_directories="],
                # A local stack: losing the last few commits in a power cut is fine, waiting on fsync is not.
                *["-c", "synchronous_commit=off"],
            ]
        ),
        health_url=f"postgresql://{settings.host}:{settings.postgres_port}",
        log_file=settings.home / "logs" / "postgres.log",
        port=settings.postgres_port,
        ready=partial(is_ready, settings),
    )


def is_ready(settings: Settings) -> bool:
    """True once the server accepts connections (`pg_isready`)."""
    address = ["-h", settings.host, "-p", str(settings.postgres_port), "-U", OWNER]
    command = [str((bin_dir() or Path()) / "pg_isready"), "-q", *address]
    return subprocess.run(command, check=False).returncode == 0


def ensure_cluster(settings: Settings) -> None:
    """Create the cluster on first use (`initdb`, trust on loopback only); raise ServiceError naming the log."""
    directory = data_dir(settings)
    if (directory / "PG_VERSION").is_file():
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _as_root():
        shutil.chown(directory, OWNER, OWNER)
    log_file = settings.home / "logs" / "postgres.log"
    command = [str((bin_dir() or Path()) / "initdb"), "-D", str(directory), "-U", OWNER, "-E", "UTF8"]
    with log_file.open("ab") as log:
        code = subprocess.run(
            _as_owner([*command, "--auth=trust", "--no-sync", "--no-instructions"]), stdout=log, stderr=log
        ).returncode
    if code != 0:
        raise ServiceError(f"postgres: initdb of {directory} failed with exit code {code}; see {log_file}")


def remove_cluster(settings: Settings) -> None:
    shutil.rmtree(data_dir(settings), ignore_errors=True)


def _as_root() -> bool:
    return os.geteuid() == 0


def _owner_exists() -> bool:
    return subprocess.run(["id", "-u", OWNER], capture_output=True, check=False).returncode == 0


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", OWNER, "--", *command] if _as_root() else command
