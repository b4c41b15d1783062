"""One connection from the router to an instance.

It parses responses with httptools and hands each event to the exchange bound
to it; it never decides anything about HTTP itself. A connection serves one
request at a time (no pipelining to upstreams) and goes back to its instance's
idle list when a response ends cleanly.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import httptools

from turnout.core.retry import PROTOCOL, RESET
from turnout.router.downstream import PAUSE_UPSTREAM

if TYPE_CHECKING:
    from turnout.router.downstream import Exchange
    from turnout.router.instances import Instance
    from turnout.router.server import Router


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "closed",
        "exchange",
        "feeding",
        "got_bytes",
        "headers",
        "idle_since",
        "instance",
        "interim",
        "last_io",
        "parser",
        "reason",
        "router",
        "served",
        "status",
        "transport",
        "tunnel",
    )

    def __init__(self, instance: Instance, router: Router) -> None:
        self.instance = instance
        self.router = router
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.served = 0  # responses completed on this connection
        self.idle_since = 0.0
        self.last_io = 0.0
        self.closed = False
        self.feeding = False
        self.got_bytes = False
        self.interim = False
        self.tunnel = False
        self.reason = b""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.instance.conns.add(self)

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None:
            # Bytes on an idle connection: the upstream is out of sync. Never reuse it.
            self.close()
            return
        self.got_bytes = True
        self.last_io = self.router.clock
        if self.tunnel:
            ex.tunnel_down(data)
            return
        self.feeding = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.feeding = False
            if self.exchange is ex:
                ex.on_switch(self.reason, self.headers, data[exc.args[0] :])
            return
        except httptools.HttpParserError:
            self.feeding = False
            if self.exchange is ex:
                ex.fail_attempt(PROTOCOL, self)
            return
        self.feeding = False
        if ex.cbuf:
            ex.flush_down()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        inst = self.instance
        inst.conns.discard(self)
        if self in inst.idle:
            inst.idle.remove(self)
        ex = self.exchange
        if ex is None:
            return
        self.exchange = None
        if self.tunnel:
            ex.tunnel_closed()
        elif ex.eof_delimited_response():
            ex.on_response_end()
        else:
            ex.fail_attempt(RESET, self)

    def pause_writing(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.client.pause(PAUSE_UPSTREAM)

    def resume_writing(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.client.resume(PAUSE_UPSTREAM)

    # --- httptools callbacks --------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        status = self.parser.get_status_code()
        self.status = status
        if status < 200 and status != 101:
            self.interim = True
            ex.on_interim(status)
            return
        ex.on_response_head(
            status, self.reason, self.headers, self.parser.get_http_version() == "1.0"
        )

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is not None:
            ex.on_response_body(body)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            self.headers = []
            return
        ex = self.exchange
        if ex is not None and self.status != 101:
            ex.on_response_end()

    # --- used by the exchange and the instance --------------------------------------------

    def bind(self, ex: Exchange) -> None:
        self.exchange = ex
        self.got_bytes = False
        self.interim = False
        self.headers = []
        self.status = 0
        self.last_io = self.router.clock

    def unbind(self) -> None:
        self.exchange = None
        self.served += 1

    def usable(self) -> bool:
        t = self.transport
        return not self.closed and t is not None and not t.is_closing()

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not self.closed:
            t.write(data)

    def close(self) -> None:
        self.exchange = None
        if not self.closed:
            self.closed = True
            self.instance.conns.discard(self)
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self.instance.conns.discard(self)
