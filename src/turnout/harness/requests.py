"""The requests each kind of HTTP client sends, as bytes, with the check of the answer.

Pure but for the random draw of /slow's wait (a seeded ``random.Random``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from turnout.demo.content import BLOCK, pattern
from turnout.harness.checks import AnyBody, BodyCheck, HomeBody, PatternBody
from turnout.harness.spec import PostClients, SlowClients, StreamClients

__all__ = [
    "GetRequests",
    "PostRequests",
    "Prepared",
    "SlowRequests",
    "StreamRequests",
    "head",
    "with_header",
]

_CHUNKS_PER_BODY = 4  # a chunked POST body goes out in this many chunks


@dataclass(frozen=True, slots=True)
class Prepared:
    data: bytes
    check: BodyCheck
    timeout: float  # seconds for the whole exchange


def head(
    method: str, target: str, authority: str, headers: Mapping[str, str], *extra: str
) -> bytes:
    """A request head; ``extra`` are whole header lines (``"Connection: close"``)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += extra
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def with_header(data: bytes, line: str) -> bytes:
    """A bodiless request head with one more header line."""
    return data[:-2] + line.encode("latin-1") + b"\r\n\r\n"


class GetRequests:
    """The same GET every time; the body of ``/`` is checked to name its release."""

    def __init__(
        self, path: str, authority: str, headers: Mapping[str, str], timeout: float, close: bool
    ) -> None:
        extra = ("Connection: close",) if close else ()
        self._data = head("GET", path, authority, headers, *extra)
        self._home = path == "/"
        self._timeout = timeout

    def next(self) -> Prepared:
        return Prepared(self._data, HomeBody() if self._home else AnyBody(), self._timeout)


class PostRequests:
    """Bodies that differ per request (so a mixed-up echo is caught), framed by
    Content-Length or chunked, optionally with an Idempotency-Key."""

    def __init__(
        self,
        clients: PostClients,
        authority: str,
        headers: Mapping[str, str],
        timeout: float,
        key_prefix: str,
    ) -> None:
        self._clients = clients
        self._authority = authority
        self._headers = headers
        self._timeout = timeout
        self._key_prefix = key_prefix
        self._seq = 0

    def next(self) -> Prepared:
        seq, self._seq = self._seq, self._seq + 1
        size = self._clients.body_bytes
        start = (seq % 65_536) * BLOCK
        body = pattern(start, size)
        extra = (
            [f"Idempotency-Key: {self._key_prefix}-{seq}"] if self._clients.idempotency_key else []
        )
        if self._chunked(seq):
            extra.append("Transfer-Encoding: chunked")
            data = self._head(extra) + _chunked(body)
        else:
            extra.append(f"Content-Length: {size}")
            data = self._head(extra) + body
        return Prepared(data, PatternBody(start, size), self._timeout)

    def _head(self, extra: list[str]) -> bytes:
        method = self._clients.method
        extra.append("Content-Type: application/octet-stream")
        return head(method, "/echo", self._authority, self._headers, *extra)

    def _chunked(self, seq: int) -> bool:
        framing = self._clients.framing
        return framing == "chunked" or (framing == "both" and seq % 2 == 1)


def _chunked(body: bytes) -> bytes:
    step = max(1, -(-len(body) // _CHUNKS_PER_BODY))
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    framed = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces]
    return b"".join(framed) + b"0\r\n\r\n"


class SlowRequests:
    """GET /slow with a wait drawn from [min_ms, max_ms]."""

    def __init__(
        self,
        clients: SlowClients,
        authority: str,
        headers: Mapping[str, str],
        timeout: float,
        rng: random.Random,
    ) -> None:
        self._clients = clients
        self._authority = authority
        self._headers = headers
        self._timeout = timeout
        self._rng = rng

    def next(self) -> Prepared:
        ms = self._rng.randint(self._clients.min_ms, self._clients.max_ms)
        data = head("GET", f"/slow?ms={ms}", self._authority, self._headers)
        return Prepared(data, AnyBody(), self._timeout + ms / 1000)


class StreamRequests:
    """GET /stream; every byte and the total length are checked."""

    def __init__(
        self, clients: StreamClients, authority: str, headers: Mapping[str, str], timeout: float
    ) -> None:
        c = clients
        target = f"/stream?chunks={c.chunks}&interval_ms={c.interval_ms}&size={c.chunk_bytes}"
        self._data = head("GET", target, authority, headers)
        self._length = c.chunks * c.chunk_bytes
        self._timeout = timeout + c.chunks * c.interval_ms / 1000

    def next(self) -> Prepared:
        return Prepared(self._data, PatternBody(0, self._length), self._timeout)
