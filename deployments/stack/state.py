"""What the local stack keeps under its home: the marker, generated S3 credentials, pid files of started processes.

A pid file records the pid and the process's start time, so a recycled pid is never mistaken for ours.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil

MARKER = ".driftloop-home"
CREDENTIALS_FILE = "credentials.json"


class StackError(RuntimeError):
    """A step of the local stack failed; the message names the step or component and its log file."""


@dataclass(frozen=True, repr=False)
class LocalCredentials:
    """Every secret of the local stack, generated at the first `up` and kept in `credentials.json` (mode 0600).

    Each service checks its own: S3 keys (SeaweedFS identities), the Prefect auth string, MLflow's admin password and
    Flask secret, the PostgreSQL password, the model server's bearer token. The repr names no value.
    """

    access_key_id: str
    secret_access_key: str
    prefect_auth: str = ""
    mlflow_username: str = "admin"
    mlflow_password: str = ""
    mlflow_flask_secret: str = ""
    postgres_password: str = ""
    serve_token: str = ""

    def __repr__(self) -> str:
        return "LocalCredentials(<secrets in credentials.json>)"

    def secrets(self) -> list[str]:
        """Every generated secret value, for checks that none of them leaks."""
        return [
            self.secret_access_key,
            self.prefect_auth.split(":", 1)[-1],
            self.mlflow_password,
            self.mlflow_flask_secret,
            self.postgres_password,
            self.serve_token,
        ]


def _generate() -> dict[str, str]:
    # token_urlsafe and token_hex use URL-safe characters only: they go into URLs and auth strings unquoted.
    return {
        "access_key_id": secrets.token_hex(10).upper(),
        "secret_access_key": secrets.token_urlsafe(30),
        "prefect_auth": f"driftloop:{secrets.token_urlsafe(24)}",
        "mlflow_username": "admin",
        "mlflow_password": secrets.token_urlsafe(24),
        "mlflow_flask_secret": secrets.token_hex(32),
        "postgres_password": secrets.token_urlsafe(24),
        "serve_token": secrets.token_urlsafe(32),
    }


def write_private(path: Path, text: str) -> None:
    """Write a file only the user can read, atomically: it is created 0600 under a temporary name, then renamed."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def prepare_home(home: Path) -> None:
    """Create the home with its logs/ and run/ folders, private to the user, and mark it as a driftloop home."""
    for folder in (home, home / "logs", home / "run"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / MARKER).touch()


def is_stack_home(home: Path) -> bool:
    """True if `up` created this directory; only such a directory may be purged."""
    return (home / MARKER).is_file()


def load_or_create_credentials(home: Path) -> LocalCredentials:
    """Read the stack's secrets, generating on first use the ones the file lacks (a home from before a secret
    existed gains it; none is ever replaced, since the services keep what they were first started with)."""
    path = home / CREDENTIALS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    complete = _generate() | {key: value for key, value in stored.items() if value}
    if complete != stored:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, json.dumps(complete))
    return LocalCredentials(**complete)


def pid_file(home: Path, component: str) -> Path:
    return home / "run" / f"{component}.pid"


def record_pid(home: Path, component: str, pid: int) -> None:
    created = psutil.Process(pid).create_time()
    pid_file(home, component).write_text(json.dumps({"pid": pid, "create_time": created}))


def recorded_pid(home: Path, component: str) -> int | None:
    """The pid of the component if its recorded process is still running; a stale pid file is removed."""
    path = pid_file(home, component)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    process = _our_process(record)
    if process is None or process.status() == psutil.STATUS_ZOMBIE:
        path.unlink(missing_ok=True)
        return None
    return int(process.pid)


def stop_recorded(home: Path, component: str, timeout: float = 15.0) -> bool:
    """Stop the component's process group and its descendants; True if something of ours was running."""
    path = pid_file(home, component)
    if not path.exists():
        return False
    record = json.loads(path.read_text())
    leader = _our_process(record)
    if leader is None and psutil.pid_exists(record["pid"]):
        # The pid was recycled by a process that is not ours: leave it alone.
        path.unlink()
        return False
    victims = ([leader, *leader.children(recursive=True)]) if leader else []
    _signal_group(record["pid"], signal.SIGTERM)
    _, alive = psutil.wait_procs(victims, timeout=timeout)
    for process in alive:
        _kill(process)
    psutil.wait_procs(alive, timeout=timeout)
    path.unlink()
    return leader is not None


def _our_process(record: dict[str, float]) -> psutil.Process | None:
    """The recorded process (possibly a zombie), or None if it is gone or its pid now belongs to another process."""
    try:
        process = psutil.Process(int(record["pid"]))
        if process.create_time() != record["create_time"]:
            return None
    except psutil.NoSuchProcess:
        return None
    return process


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    """Each service runs in its own session, so its pid is its process group id; the group holds its workers."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return


def _kill(process: psutil.Process) -> None:
    try:
        process.kill()
    except psutil.NoSuchProcess:
        return
