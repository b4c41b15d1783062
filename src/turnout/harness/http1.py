"""A minimal HTTP/1.1 client connection: an asyncio Protocol with httptools parsing.

One request at a time per connection (no pipelining). ``HttpConnection.send``
writes a prepared request and returns a future that completes when the exchange
has ended, one way or another; the ``Exchange`` then holds what happened, already
classified as an accounting ``Kind`` and ``Stage``. Nothing here raises for a
misbehaving server: every failure becomes a value.

Why not httpx: a load generator sharing two cores with the router and the apps
must spend as little CPU per request as it can. Here a keep-alive GET costs one
write, one parse and one future.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass, field
from typing import cast

import httptools

from turnout.harness.accounting import Kind, Stage
from turnout.harness.checks import BodyCheck

__all__ = ["Exchange", "HttpConnection", "connect", "connect_failure"]


@dataclass(slots=True)
class Exchange:
    """One request on a connection: what to expect, and then what happened."""

    check: BodyCheck
    expect_status: int = 200
    kind: Kind | None = None  # None while in flight
    stage: Stage = Stage.HEAD
    status: int | None = None
    release: str | None = None
    converted: bool = False
    keep_alive: bool = True
    detail: str = ""
    cohort_header: bytes | None = None  # lower-case; its value is kept in ``cohort``
    cohort: str | None = None
    cookies: list[bytes] | None = None  # Set-Cookie values, when a user keeps a jar
    _got_bytes: bool = field(default=False, repr=False)
    _framed: bool = field(default=False, repr=False)  # content-length or chunked
    _interim: bool = field(default=False, repr=False)  # a 1xx head is being parsed


class HttpConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: Exchange | None = None
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    # -- use ---------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        return not self.closed and self._exchange is None

    def send(self, data: bytes, exchange: Exchange, timeout: float) -> asyncio.Future[None]:
        """Write ``data`` (a whole request) and return a future for the end of ``exchange``."""
        done = self._loop.create_future()
        self._exchange, self._done = exchange, done
        if self.closed or self._transport is None:
            self._finish(Kind.RESET_BEFORE_RESPONSE, Stage.HEAD, "connection closed before use")
            return done
        self._timer = self._loop.call_later(timeout, self._on_timeout)
        self._transport.write(data)
        return done

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()
        self.closed = True

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self.closed = True

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        exchange = self._exchange
        if exchange is None:  # bytes nobody asked for: the connection is unusable
            self.abort()
            return
        exchange._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail_protocol("unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self._fail_protocol(f"invalid HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self._exchange
        if exchange is None:
            return
        how = "reset" if exc is not None else "closed"
        if not exchange._got_bytes:
            self._finish(
                Kind.RESET_BEFORE_RESPONSE, Stage.HEAD, f"connection {how} before response"
            )
        elif exchange.status is None:
            self._finish(Kind.RESET_MID_RESPONSE, Stage.HEAD, f"connection {how} in response head")
        elif exc is not None:
            self._finish(Kind.RESET_MID_RESPONSE, Stage.BODY, f"connection reset in body: {exc}")
        elif not exchange._framed:
            self.on_message_complete()  # a body delimited by the end of the connection
        else:
            self._finish(Kind.BAD_BODY, Stage.BODY, "truncated: connection closed in body")

    # -- httptools callbacks --------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        name = name.lower()
        if name == b"x-release":
            exchange.release = value.decode("latin-1")
        elif name == b"x-converted":
            exchange.converted = value.strip() == b"1"
        elif name in (b"content-length", b"transfer-encoding"):
            exchange._framed = True
        elif name == b"set-cookie" and exchange.cookies is not None:
            exchange.cookies.append(value)
        elif name == exchange.cohort_header:
            exchange.cohort = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and friends: the real head follows
            exchange._interim = True
            return
        exchange.status = status
        exchange.stage = Stage.BODY
        exchange.keep_alive = bool(self._parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        exchange = self._exchange
        if exchange is not None and not exchange._interim:
            exchange.check.feed(body)

    def on_message_complete(self) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        if exchange._interim:
            exchange._interim = False
            exchange.release, exchange.converted, exchange._framed = None, False, False
            return
        status = exchange.status or 0
        if status >= 500:
            self._finish(Kind.HTTP_5XX, Stage.DONE, f"status {status}")
        elif status != exchange.expect_status:
            self._finish(Kind.UNEXPECTED_STATUS, Stage.DONE, f"status {status}")
        else:
            problem = exchange.check.finish(exchange.release)
            if problem is None:
                self._finish(Kind.OK, Stage.DONE, "")
            else:
                self._finish(Kind.BAD_BODY, Stage.DONE, problem)

    # -- endings ---------------------------------------------------------------

    def _on_timeout(self) -> None:
        exchange = self._exchange
        if exchange is not None:
            where = "response head" if exchange.status is None else "response body"
            self._finish(Kind.TIMEOUT, exchange.stage, f"no complete {where} in time")
            self.abort()

    def _fail_protocol(self, detail: str) -> None:
        exchange = self._exchange
        if exchange is not None:
            self._finish(Kind.PROTOCOL, exchange.stage, detail)
        self.abort()

    def _finish(self, kind: Kind, stage: Stage, detail: str) -> None:
        exchange, done = self._exchange, self._done
        self._exchange = self._done = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if exchange is None or done is None:
            return
        exchange.kind, exchange.stage, exchange.detail = kind, stage, detail
        if kind is not Kind.OK or not exchange.keep_alive:
            self.close()
        if not done.done():
            done.set_result(None)


async def connect(host: str, port: int, timeout: float) -> HttpConnection:
    """A new connection; raises OSError or TimeoutError (see ``connect_failure``)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, connection = await loop.create_connection(HttpConnection, host, port)
    return connection


def connect_failure(exc: BaseException) -> tuple[Kind, Stage, str]:
    """How a failed ``connect`` is counted."""
    if isinstance(exc, TimeoutError):
        return Kind.TIMEOUT, Stage.CONNECT, "connect timed out"
    if isinstance(exc, ConnectionResetError):
        return Kind.RESET_BEFORE_RESPONSE, Stage.CONNECT, "reset while connecting"
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "error")
        return Kind.REFUSED, Stage.CONNECT, f"connect failed: {name}"
    return Kind.REFUSED, Stage.CONNECT, f"connect failed: {exc!r}"
