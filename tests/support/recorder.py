"""A recording upstream: a real HTTP/1.1 server on loopback, run in a thread, that
keeps every request it received (as parsed) and answers each with a small 200.

Used where a test must know exactly what reached the upstream, e.g. that a
smuggled second request never did.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httptools
import pytest


@dataclass
class Received:
    method: bytes
    path: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


@dataclass
class Behaviour:
    """How the recorder answers: a status, or raw bytes, and whether it hangs up."""

    status: int = 200
    raw: bytes | None = None  # sent instead of a well-formed response
    close_after: bool = False
    hang: bool = False  # never answer
    reset: bool = False  # answer nothing and reset the connection


class _Conn(asyncio.Protocol):
    def __init__(self, server: Recorder) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.current: Received | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections += 1

    def data_received(self, data: bytes) -> None:
        self.server.raw_bytes += data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.current = Received(self.parser.get_method(), self.url, self.headers)

    def on_body(self, body: bytes) -> None:
        assert self.current is not None
        self.current.body += body

    def on_message_complete(self) -> None:
        assert self.current is not None and self.transport is not None
        self.server.requests.append(self.current)
        b = self.server.behaviour
        if b.hang:
            return
        if b.reset:
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
            return
        if b.raw is not None:
            self.transport.write(b.raw)
        else:
            body = b"ok %d\n" % len(self.server.requests)
            self.transport.write(
                b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nX-Release: recorder\r\n\r\n%s"
                % (b.status, len(body), body)
            )
        if b.close_after:
            self.transport.close()


@dataclass
class Recorder:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    raw_bytes: bytes = b""
    connections: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Recorder:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(
                loop.create_server(lambda: _Conn(self), "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            self._server = server
            ready.set()
            loop.run_forever()
            loop.run_until_complete(server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder().start()
    yield r
    r.stop()


@pytest.fixture
def recorder_factory() -> Iterator[Callable[[], Recorder]]:
    started: list[Recorder] = []

    def factory() -> Recorder:
        r = Recorder().start()
        started.append(r)
        return r

    yield factory
    for r in started:
        r.stop()
