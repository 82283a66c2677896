"""`python -m deployments.serve.lander <reports descriptor>`: the model server's lander, a process of its own.

The server hands each logged request over on this process's standard input (tasks.serving.wire) and goes on
answering. Here the records are typed, held, and landed as micro-batches with the shadow comparison
(deployments.serve.flush); what was landed goes back on the descriptor named, for the server's metrics. Building the
frames, scoring every record with the challenger and writing cost about as much CPU as answering did: in a process of
their own they use the other core and never hold the server's GIL.

The lander stops when its input closes (the server stopped, or died) and lands everything it holds first. So it
runs in a process group of its own and ignores SIGTERM and SIGINT: stopping the server is what stops it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict
from multiprocessing.connection import Connection

import orjson

from blocks.settings import Settings, get_settings
from deployments.serve import follow, log_to_stderr
from deployments.serve.answer import shadows
from deployments.serve.catalog import Catalog
from deployments.serve.flush import flush
from deployments.serve.handoff import PIPE_BYTES
from deployments.serve.metrics import ServerMetrics
from tasks.serving import wire
from tasks.serving.frames import next_frame
from tasks.serving.wire import STOP

log = logging.getLogger("driftloop.serve.lander")
NICENESS = 10  # the answers first: on a busy machine a micro-batch can land a second later, a request cannot wait


class Lander:
    def __init__(self, catalog: Catalog, reports: Connection) -> None:
        self.catalog, self.reports = catalog, reports
        self.closed = threading.Event()
        self._received: list[bytes] = []
        self._lock = threading.Lock()

    def receive(self, inbox: int) -> None:
        """The reader thread: only takes hand-offs off the pipe, every one waiting at each read
        (tasks.serving.frames), so the server's writes to it rarely wait."""
        try:
            with open(inbox, "rb", buffering=PIPE_BYTES) as pipe:
                while (blob := next_frame(pipe)) not in (None, STOP):
                    with self._lock:
                        self._received.append(blob)
            if blob is None:
                log.info("the model server closed the hand-off: landing what is held")
        finally:
            self.closed.set()

    def land(self, force: bool) -> None:
        """Log what was received, then land every due micro-batch (everything, forced) and report it."""
        self._log_received()
        landed = flush(self.catalog, force)
        if landed:
            try:
                self.reports.send_bytes(orjson.dumps({name: asdict(counted) for name, counted in landed.items()}))
            except OSError:
                log.warning("the model server is gone; %s landed all the same", landed)

    def _log_received(self) -> None:
        with self._lock:
            received, self._received = self._received, []
        behind = self._log(received, strict=True)
        if behind:  # the server read blocks or aliases before this process did: read them now
            self.catalog.refresh_datasets()
            self.catalog.refresh_models()
            behind = self._log(behind, strict=False)
        if behind:
            log.warning("%d requests of datasets with no block here; kept until one appears", len(behind))
            with self._lock:
                self._received[:0] = behind

    def _log(self, received: list[bytes], strict: bool) -> list[bytes]:
        """Add each hand-off to its dataset's online log; those this process is behind the server on are returned:
        of a dataset not known here, or (`strict`) answered in shadow of a challenger not shadowing here."""
        behind = []
        for blob in received:
            handed = wire.decode(blob)
            served = self.catalog.get(handed.dataset)
            if served is None or (strict and not shadows(served, handed.shadowed)):
                behind.append(blob)
                continue
            served.log.append(handed)
        return behind

    async def run(self, settings: Settings) -> None:
        # The aliases at the blocks' pace, not the server's: a shadow summary names the versions it compared, and an
        # MLflow call every second would take CPU from the requests (promotions still arrive at once, as events).
        async with follow.running(settings, self.catalog, settings.serve_refresh_seconds, self.land):
            await asyncio.to_thread(self.closed.wait)


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(NICENESS)
    log_to_stderr()
    inbox, reports = _private_pipes(int(sys.argv[1]))
    lander = Lander(Catalog(ServerMetrics()), reports)
    threading.Thread(target=lander.receive, args=(inbox,), name="hand-off", daemon=True).start()
    asyncio.run(lander.run(get_settings()))


def _private_pipes(reports_fd: int) -> tuple[int, Connection]:
    """The hand-off off standard input, and neither pipe inherited by a process a library may start here: a child
    holding the hand-off's read end would keep the server from ever seeing this process gone."""
    inbox = os.dup(sys.stdin.fileno())  # not inheritable, as every descriptor Python makes
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, sys.stdin.fileno())
    os.close(null)
    os.set_inheritable(reports_fd, False)
    return inbox, Connection(reports_fd, readable=False)


if __name__ == "__main__":
    main()
