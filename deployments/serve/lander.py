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
from deployments.serve.catalog import Catalog
from deployments.serve.flush import flush
from deployments.serve.metrics import ServerMetrics
from tasks.serving import wire
from tasks.serving.wire import STOP

log = logging.getLogger("driftloop.serve.lander")
NICENESS = 10  # the answers first: on a busy machine a micro-batch can land a second later, a request cannot wait


class Lander:
    def __init__(self, catalog: Catalog, reports: Connection) -> None:
        self.catalog, self.reports = catalog, reports
        self.closed = threading.Event()
        self._received: list[bytes] = []
        self._lock = threading.Lock()

    def receive(self, inbox: Connection) -> None:
        """The reader thread: only takes hand-offs off the pipe, so the server's writes to it rarely wait."""
        try:
            while (blob := inbox.recv_bytes()) != STOP:
                with self._lock:
                    self._received.append(blob)
        except EOFError:
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
        unknown = self._log(received)
        if unknown:  # datasets the server read before this process did: read the blocks now
            self.catalog.refresh_datasets()
            self.catalog.refresh_models()
            unknown = self._log(unknown)
        if unknown:
            log.warning("%d requests of datasets with no block here; kept until one appears", len(unknown))
            with self._lock:
                self._received[:0] = unknown

    def _log(self, received: list[bytes]) -> list[bytes]:
        """Add each hand-off to its dataset's online log; those of datasets not known here are returned."""
        unknown = []
        for blob in received:
            handed = wire.decode(blob)
            served = self.catalog.get(handed.dataset)
            if served is None:
                unknown.append(blob)
                continue
            served.log.append(handed)
        return unknown

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


def _private_pipes(reports_fd: int) -> tuple[Connection, Connection]:
    """The hand-off off standard input, and neither pipe inherited by a process a library may start here: a child
    holding the hand-off's read end would keep the server from ever seeing this process gone."""
    inbox = os.dup(sys.stdin.fileno())  # not inheritable, as every descriptor Python makes
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, sys.stdin.fileno())
    os.close(null)
    os.set_inheritable(reports_fd, False)
    return Connection(inbox, writable=False), Connection(reports_fd, readable=False)


if __name__ == "__main__":
    main()
