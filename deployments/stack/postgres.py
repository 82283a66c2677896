"""PostgreSQL for the local Prefect server, when the machine has PostgreSQL's server programs.

On SQLite the server serialises every write: a drift automation's `run-deployment` action meets the trigger's own open
transaction, gets "database is locked" and retries two seconds later, and under load an action can fail outright.
PostgreSQL removes both. Without PostgreSQL's programs the server stays on SQLite (`database_url` returns None).

PostgreSQL refuses to run as root, so a root user's cluster runs as the `postgres` user, in a fresh directory that
user owns (mkdtemp: unpredictable name, mode 0700), recorded in the home and checked before every start. The cluster
listens on loopback only, has no Unix socket, and takes a scram-sha-256 password from the stack's credentials.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from functools import cache, partial
from pathlib import Path

from blocks.settings import Settings
from deployments.stack.services import Service, ServiceError
from deployments.stack.state import LocalCredentials

DATABASE = "postgres"  # initdb's own database: a private cluster needs no other
OWNER = "postgres"
CLUSTER_RECORD = "postgres-cluster"  # in the home: where root's cluster directory is
# Loopback TCP with a password, nothing else: no Unix socket exists (unix_socket_directories is empty).
HBA = "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"


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


def database_url(settings: Settings, credentials: LocalCredentials | None) -> str | None:
    """The Prefect server's database URL with the password, or None to keep Prefect's SQLite default.

    The password is URL-safe by construction (`secrets.token_urlsafe`), so it needs no quoting.
    """
    if not available():
        return None
    password = f":{credentials.postgres_password}" if credentials else ""
    return f"postgresql+asyncpg://{OWNER}{password}@{settings.host}:{settings.postgres_port}/{DATABASE}"


def address(settings: Settings) -> str:
    """Where the cluster listens, for people: no user, no password."""
    return f"postgresql://{settings.host}:{settings.postgres_port}/{DATABASE}" if available() else ""


def data_dir(settings: Settings) -> Path:
    """The cluster's directory: in the home, or for root the directory recorded when the cluster was created."""
    if not _as_root():
        return settings.home / "postgres"
    record = settings.home / CLUSTER_RECORD
    return Path(record.read_text().strip()) if record.is_file() else settings.home / "postgres-not-created"


def service(settings: Settings) -> Service:
    directory = bin_dir() or Path()
    return Service(
        name="postgres",
        command=_as_owner(
            [
                *[str(directory / "postgres"), "-D", str(data_dir(settings)), "-p", str(settings.postgres_port)],
                # Commits stay synchronous: with them off, a killed PostgreSQL (the OOM killer, say) loses commits it
                # had acknowledged, and a flow run's Running state can vanish, leaving it Pending for good.
                *["-c", f"listen_addresses={settings.host}", "-c", "unix_socket_directories="],
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


def ensure_cluster(settings: Settings, credentials: LocalCredentials) -> None:
    """Create the cluster on first use (`initdb`, scram-sha-256, loopback only), or check the recorded one is still
    private; raise ServiceError naming the directory or the log."""
    directory = data_dir(settings)
    if (directory / "PG_VERSION").is_file():
        _check_private(directory)
        return
    directory = _new_directory(settings)
    log_file = settings.home / "logs" / "postgres.log"
    password_file = directory.parent / f"{directory.name}.pw"  # initdb wants an empty data directory
    _write_owned(password_file, credentials.postgres_password + "\n")
    command = [str((bin_dir() or Path()) / "initdb"), "-D", str(directory), "-U", OWNER, "-E", "UTF8"]
    options = ["--auth=scram-sha-256", f"--pwfile={password_file}", "--no-sync", "--no-instructions"]
    try:
        with log_file.open("ab") as log:
            code = subprocess.run(_as_owner([*command, *options]), stdout=log, stderr=log).returncode
    finally:
        password_file.unlink(missing_ok=True)
    if code != 0:
        raise ServiceError(f"postgres: initdb of {directory} failed with exit code {code}; see {log_file}")
    _write_owned(directory / "pg_hba.conf", HBA)


def remove_cluster(settings: Settings) -> None:
    shutil.rmtree(data_dir(settings), ignore_errors=True)
    (settings.home / CLUSTER_RECORD).unlink(missing_ok=True)


def _new_directory(settings: Settings) -> Path:
    if not _as_root():
        directory = settings.home / "postgres"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return directory
    # The `postgres` user cannot enter root's home: the cluster lives in the temp folder, under a name nobody can
    # guess or take first (mkdtemp creates it, 0700), and the home records where.
    directory = Path(tempfile.mkdtemp(prefix="driftloop-postgres-"))
    shutil.chown(directory, OWNER, OWNER)
    (settings.home / CLUSTER_RECORD).write_text(str(directory))
    return directory


def _check_private(directory: Path) -> None:
    """Refuse a cluster directory that someone else could have prepared or can read."""
    info = directory.lstat()
    owner = pwd.getpwnam(OWNER).pw_uid if _as_root() else os.geteuid()
    if directory.is_symlink() or info.st_uid != owner or stat.S_IMODE(info.st_mode) & 0o077:
        raise ServiceError(
            f"postgres: {directory} is not a private directory of {OWNER!r} (mode 0700); refusing to start on it. "
            "Run `driftloop down --purge` to create a fresh cluster."
        )


def _write_owned(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)
    if _as_root():
        shutil.chown(path, OWNER, OWNER)


def _as_root() -> bool:
    return os.geteuid() == 0


def _owner_exists() -> bool:
    return subprocess.run(["id", "-u", OWNER], capture_output=True, check=False).returncode == 0


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", OWNER, "--", *command] if _as_root() else command
