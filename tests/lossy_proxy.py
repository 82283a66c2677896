"""A loopback HTTP/1.1 proxy that loses answers on purpose: the request reaches the server, its response does not.

`LossyProxy` sits in front of an S3 endpoint and relays every request and response byte for byte. Armed with
`lose_responses(predicate, count)`, it lets the next `count` matching requests through to the server, reads the
server's whole answer (so the write has happened), and then closes the client's connection without sending it: what a
client sees when a network drops the reply. Botocore resends such a request on a new connection.

Each client connection gets its own upstream connection and two threads: one relays requests (so the proxy knows
where each one ends, by Content-Length or chunked framing, and can match it), the other relays responses and pairs
each final one with its request, forwarding interim `100 Continue` answers as they come (botocore sends
`Expect: 100-continue` with every PUT body). Keep-alive connections carry any number of exchanges; stdlib only.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BufferedReader
from types import TracebackType
from urllib.parse import unquote, urlsplit

CHUNK = 65536
MAX_LINE = 65536


@dataclass(frozen=True)
class Request:
    """What a rule may look at: the method, the unquoted path (query dropped) and the headers, names lowercased."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Exchange:
    """One request seen by the proxy and the status the server answered it with; `lost` if the client never saw it."""

    request: Request
    status: int | None = None
    lost: bool = False


@dataclass
class _Rule:
    matches: Callable[[Request], bool]
    remaining: int


@dataclass
class _Message:
    """The head of a request or response as received (raw bytes, relayed unchanged) and what framing needs of it."""

    raw: bytes
    start: str
    headers: dict[str, str] = field(default_factory=dict)


def conditional_put(bucket: str, prefix: str = "") -> Callable[[Request], bool]:
    """Match a write-once PUT (`If-None-Match: *`) of a key under `prefix` in `bucket` (path-style addressing)."""
    return lambda request: (
        request.method == "PUT"
        and request.headers.get("if-none-match") == "*"
        and request.path.startswith(f"/{bucket}/{prefix}")
    )


class LossyProxy:
    """A proxy to `upstream` (an `http://host:port` URL) on a free loopback port, its URL in `endpoint`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"need an http://host:port upstream, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.exchanges: list[Exchange] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="lossy-proxy", daemon=True).start()

    def lose_responses(self, predicate: Callable[[Request], bool], count: int = 1) -> None:
        """Lose the responses of the next `count` requests that match `predicate` (after earlier rules' matches)."""
        with self._lock:
            self._rules.append(_Rule(predicate, count))

    @property
    def lost(self) -> list[Exchange]:
        """The exchanges whose response the proxy swallowed, in order."""
        with self._lock:
            return [exchange for exchange in self.exchanges if exchange.lost]

    @property
    def armed(self) -> int:
        """How many responses the rules are still waiting to lose."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def answers_to(self, predicate: Callable[[Request], bool]) -> list[int | None]:
        """The statuses the server gave the requests that match `predicate`, in order (lost ones included)."""
        with self._lock:
            return [exchange.status for exchange in self.exchanges if predicate(exchange.request)]

    def close(self) -> None:
        """Stop accepting and cut every open connection."""
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)

    def __enter__(self) -> LossyProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _cut(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            _Connection(self, client, server).start()

    def _take(self, request: Request) -> Exchange:
        """Record the request; mark it to be lost if an armed rule matches it (and spend one of the rule's count)."""
        with self._lock:
            rule = next((r for r in self._rules if r.remaining and r.matches(request)), None)
            if rule is not None:
                rule.remaining -= 1
            exchange = Exchange(request, lost=rule is not None)
            self.exchanges.append(exchange)
            return exchange

    def _answered(self, exchange: Exchange, status: int) -> None:
        with self._lock:
            exchange.status = status

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._sockets -= set(sockets)


class _Connection:
    """One client connection and its upstream connection: requests one way, responses the other, paired in order."""

    def __init__(self, proxy: LossyProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy, self.client, self.server = proxy, client, server
        self.pending: queue.Queue[Exchange | None] = queue.Queue()

    def start(self) -> None:
        threading.Thread(target=self._requests, name="lossy-proxy-requests", daemon=True).start()
        threading.Thread(target=self._responses, name="lossy-proxy-responses", daemon=True).start()

    def _requests(self) -> None:
        """Relay requests to the server, each queued (before it is sent) for the response side to pair."""
        source = self.client.makefile("rb")
        try:
            while (head := _read_head(source)) is not None:
                method, target, _ = head.start.split(" ", 2)
                path = unquote(urlsplit(target).path)
                self.pending.put(self.proxy._take(Request(method, path, head.headers)))
                self.server.sendall(head.raw)
                for piece in _body(source, head.headers):
                    self.server.sendall(piece)
        except (OSError, ValueError):
            pass
        finally:
            self.pending.put(None)
            source.close()
            self._end()

    def _responses(self) -> None:
        """Relay responses to the client; the final response of a request marked lost is read in full and dropped,
        and the client's connection is closed instead."""
        source = self.server.makefile("rb")
        try:
            while (head := _read_head(source)) is not None:
                status = int(head.start.split(" ", 2)[1])
                if status < 200:  # 100 Continue: not the answer, and the client waits for it before sending a body
                    self.client.sendall(head.raw)
                    continue
                exchange = self.pending.get(timeout=60)
                if exchange is None:
                    return
                self.proxy._answered(exchange, status)
                body = _body(source, head.headers, status, exchange.request.method)
                if exchange.lost:
                    for _ in body:  # the whole answer: the server is done with the write
                        pass
                    return
                self.client.sendall(head.raw)
                for piece in body:
                    self.client.sendall(piece)
        except (OSError, ValueError, queue.Empty):
            pass
        finally:
            source.close()
            self._end()

    def _end(self) -> None:
        for sock in (self.client, self.server):
            _cut(sock)
        self.proxy._forget(self.client, self.server)


def _read_head(source: BufferedReader) -> _Message | None:
    """The start line and headers of the next message, or None at a clean end of the stream."""
    raw = bytearray()
    lines: list[str] = []
    while True:
        line = source.readline(MAX_LINE)
        if not line:
            if raw:
                raise ValueError("stream ended inside a message head")
            return None
        raw += line
        if not line.endswith(b"\n"):
            raise ValueError("header line too long")
        if line in (b"\r\n", b"\n"):
            if not lines:  # tolerate a stray empty line between messages (RFC 9112 §2.2)
                raw.clear()
                continue
            break
        lines.append(line.decode("latin-1").rstrip("\r\n"))
    headers: dict[str, str] = {}
    for text in lines[1:]:
        name, _, value = text.partition(":")
        headers[name.strip().lower()] = value.strip()
    return _Message(bytes(raw), lines[0], headers)


def _body(source: BufferedReader, headers: dict[str, str], status: int = 0, method: str = "") -> Iterator[bytes]:
    """The raw bytes of a message body as framed on the wire (RFC 9112 §6.3); `status`/`method` only for responses."""
    if method == "HEAD" or status in (204, 304):
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        yield from _chunks(source)
    elif "content-length" in headers:
        yield from _exactly(source, int(headers["content-length"]))
    elif status:  # a response without a length runs until the server closes
        while piece := source.read1(CHUNK):
            yield piece


def _chunks(source: BufferedReader) -> Iterator[bytes]:
    """A chunked body, size lines, trailers and all, relayed as it arrives."""
    while True:
        line = source.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise ValueError("truncated chunk size line")
        yield line
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        yield from _exactly(source, size + 2)  # the data and its CRLF
    while True:  # trailers, up to the empty line
        line = source.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise ValueError("truncated chunked trailer")
        yield line
        if line in (b"\r\n", b"\n"):
            return


def _exactly(source: BufferedReader, size: int) -> Iterator[bytes]:
    while size > 0:
        piece = source.read(min(size, CHUNK))
        if not piece:
            raise ValueError("stream ended inside a body")
        size -= len(piece)
        yield piece


def _cut(sock: socket.socket) -> None:
    """Shut down (which wakes a thread blocked reading it) and close, ignoring a socket already gone."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
