"""The server's end of its lander (deployments.serve.lander): each logged request goes down a pipe, and what the
lander landed comes back for the metrics.

A lander that died is started again as soon as its reports pipe closes (or by the next hand-off, should that come
first); what the dead one held and had not landed is lost, as it would be had the whole server died, and so is a
hand-off written while it was dying. A lander that falls behind makes the server wait once the pipe is full: the log
slows answering down rather than losing records or growing without bound."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
from contextlib import closing, suppress
from multiprocessing.connection import Connection

import orjson

from deployments.serve.metrics import ServerMetrics
from tasks.serving.frames import framed
from tasks.serving.wire import STOP

log = logging.getLogger("driftloop.serve")
REAP_SECONDS = 5.0  # a lander closes its reports pipe only as it exits
PIPE_BYTES = 1 << 20  # Linux's ceiling for an unprivileged pipe: some seventy 100-record requests


class Handoff:
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._inbox: int | None = None  # the write end of the hand-off pipe

    def start(self) -> None:
        with self._lock:
            if self._inbox is None:
                self._start()

    def send(self, blob: bytes) -> None:
        with self._lock:
            if self._inbox is None:
                self._start()
            assert self._inbox is not None and self._process is not None
            # Asked first (a waitpid, a microsecond): a broken pipe alone would miss a lander whose end of it a
            # process of its own had inherited.
            if (code := self._process.poll()) is not None:
                self._restart(f"code {code}")
            try:
                _write_all(self._inbox, framed(blob))
            except OSError as exc:  # only a lander that is gone closes its end
                self._restart(f"{exc}, code {self._process.poll()}")
                _write_all(self._inbox, framed(blob))

    def close(self, timeout: float) -> None:
        """Ask the lander to land everything it holds and wait for it, at most `timeout` seconds."""
        with self._lock:
            if self._inbox is None or self._process is None:
                return
            with suppress(OSError):
                _write_all(self._inbox, framed(STOP))
            os.close(self._inbox)
            self._inbox = None
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("the lander did not finish landing within %.0fs; stopped", timeout)
                self._process.kill()

    def _restart(self, why: str) -> None:
        log.error("the lander exited (%s); starting another for the online log", why)
        self.metrics.lander_restarts.inc()
        self._start()

    def _start(self) -> None:
        if self._inbox is not None:
            os.close(self._inbox)
        inbox_read, inbox_write = os.pipe()
        reports_read, reports_write = os.pipe()
        with suppress(OSError):  # a smaller buffer only means the server waits sooner
            fcntl.fcntl(inbox_write, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        command = [sys.executable, "-m", "deployments.serve.lander", str(reports_write)]
        # A process group of its own: a signal to the server's group (the stack stopping it) would otherwise reach
        # the lander too, perhaps before it could ignore it; it stops when the hand-off closes, after landing.
        self._process = subprocess.Popen(command, stdin=inbox_read, pass_fds=(reports_write,), process_group=0)
        os.close(inbox_read)
        os.close(reports_write)
        self._inbox = inbox_write
        reports = Connection(reports_read, writable=False)
        thread = threading.Thread(target=self._count, args=(reports, self._process), name="lander reports", daemon=True)
        thread.start()

    def _count(self, reports: Connection, lander: subprocess.Popen[bytes]) -> None:
        with closing(reports):
            while True:
                try:
                    landed = orjson.loads(reports.recv_bytes())
                except EOFError:
                    break
                for dataset, counted in landed.items():
                    self.metrics.flushed.labels(dataset).inc(counted["rows"])
                    self.metrics.shadow.labels(dataset).inc(counted["shadow_rows"])
        self._replace(lander)

    def _replace(self, lander: subprocess.Popen[bytes]) -> None:
        """Its reports pipe closed, so the lander is exiting: unless the server is stopping it, or already replaced
        it, start another now rather than at the next request (there may be none for a while)."""
        with self._lock:
            if self._inbox is None or self._process is not lander:
                return
            with suppress(subprocess.TimeoutExpired):
                lander.wait(REAP_SECONDS)
            self._restart(f"code {lander.poll()}")


def _write_all(fd: int, data: bytes) -> None:
    """A blocking write returns short only when a signal interrupts it: the rest follows."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
