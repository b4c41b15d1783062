"""A tiny raw-socket HTTP/1.1 client for tests that must control every byte."""

from __future__ import annotations

import socket
import time

import httptools


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.done = False

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


class _Collector:
    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.parser: httptools.HttpResponseParser | None = None

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.responses[-1].status = self.parser.get_status_code()

    def on_message_begin(self) -> None:
        self.responses.append(Response())

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1].headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.responses[-1].body += body

    def on_message_complete(self) -> None:
        self.responses[-1].done = True


def connect(address: str, timeout: float = 5.0) -> socket.socket:
    host, port = address.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_responses(
    sock: socket.socket, count: int, timeout: float = 10.0
) -> tuple[list[Response], bool]:
    """Read ``count`` complete responses (or until EOF); returns them and whether EOF was seen."""
    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    collector.parser = parser
    deadline = time.monotonic() + timeout
    eof = False
    while sum(r.done for r in collector.responses) < count:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            eof = True
            break
        if not data:
            eof = True
            break
        parser.feed_data(data)
    return collector.responses, eof


def exchange(
    address: str, raw: bytes, count: int = 1, timeout: float = 10.0
) -> tuple[list[Response], bool]:
    with connect(address) as sock:
        sock.sendall(raw)
        return read_responses(sock, count, timeout)


def is_closed(sock: socket.socket, timeout: float = 2.0) -> bool:
    """True when the peer closed (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
