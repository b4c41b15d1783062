"""Client connections and the exchanges (request/response pairs) on them.

``ClientConnection`` feeds bytes to httptools and turns its callbacks into
``Exchange`` objects, one per request, served strictly in order (pipelined
requests wait their turn, with reading paused). An ``Exchange`` picks an
instance through the live route table, streams the request to an upstream
connection and the response back, retries attempts that failed before
reaching an upstream, and accounts for the result.

The request path has no coroutine: everything runs in protocol callbacks, and
writes made while one chunk of input is being parsed are coalesced into one
``transport.write``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter
from typing import TYPE_CHECKING, cast

import httptools

from turnout.core import http1
from turnout.core.http1 import (
    BODY_CHUNKED,
    BODY_EOF,
    BODY_NONE,
    BadRequest,
    RequestHead,
    ResponseHead,
    error_response,
)
from turnout.core.retry import CONNECT, RESET, TIMEOUT, may_retry

if TYPE_CHECKING:
    from turnout.router.instances import Instance
    from turnout.router.server import Router
    from turnout.router.table import LivePool
    from turnout.router.upstream import UpstreamConnection

# Exchange phases.
QUEUED = 0  # parsed, waiting behind an earlier request on the connection
CONNECTING = 1  # waiting for a new upstream connection
SENT = 2  # request head sent; no response yet
RESPONDING = 3  # response head sent to the client
TUNNEL = 4  # upgraded: bytes flow both ways untouched
DISCARDING = 5  # response done; the rest of the request body is read and dropped
DONE = 6

# Reasons reading from the client is paused (a bit mask).
PAUSE_QUEUE = 1  # a pipelined request waits
PAUSE_UPSTREAM = 2  # the upstream cannot take more request body now
PAUSE_BUFFER = 4  # body is piling up while an upstream connection opens
PAUSE_CLOSING = 8  # a protocol error will close the connection

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_UNSENT_LIMIT = 256 * 1024


class Exchange:
    __slots__ = (
        "attempts",
        "cbuf",
        "client",
        "conn",
        "connect_task",
        "continued",
        "early",
        "instance",
        "log",
        "log_size",
        "phase",
        "pinned",
        "pool",
        "received",
        "req",
        "request_done",
        "resp",
        "sent_at",
        "set_cookie",
        "status",
        "t0",
        "tried",
        "unsent",
        "unsent_size",
        "wbuf",
    )

    def __init__(self, client: ClientConnection, req: RequestHead) -> None:
        self.client = client
        self.req = req
        self.phase = QUEUED
        self.pool: LivePool | None = None
        self.instance: Instance | None = None
        self.conn: UpstreamConnection | None = None
        self.connect_task: asyncio.Task[object] | None = None
        self.tried: list[Instance] = []
        self.attempts = 0
        self.pinned = False
        self.set_cookie = b""
        self.unsent: list[bytes] = []  # request body not yet written to the current upstream
        self.unsent_size = 0
        self.log: list[bytes] | None = [] if req.body != BODY_NONE else None  # for a replay
        self.log_size = 0
        self.received = 0  # request body bytes received
        self.request_done = False
        self.continued = False  # a 100 Continue went to the client
        self.resp: ResponseHead | None = None
        self.status = 0
        self.t0 = perf_counter()
        self.sent_at = 0.0
        self.wbuf: list[bytes] = []  # to the upstream, coalesced per input chunk
        self.cbuf: list[bytes] = []  # to the client, coalesced per input chunk
        self.early: list[bytes] = []  # tunnel bytes from the client before the switch

    # --- routing and attempts -------------------------------------------------------------

    def start(self) -> None:
        router = self.client.router
        sel = router.table.select(self.client.headers_of_active, self.req.cookie)
        if sel is None:
            self.respond_error(503, "no release is receiving traffic", None)
            return
        pool, inst, self.pinned, self.set_cookie = sel
        self.pool = pool
        cohorts = router.table.cohort_lines
        if cohorts:
            line = cohorts[pool.name]
            req = self.req
            req.head = req.head[:-2] + line + b"\r\n"  # to the app ...
            self.set_cookie += line  # ... and back to the client
        if inst is None:
            router.count_unavailable(pool)
            self.respond_error(503, f"no healthy instance in pool {pool.name!r}", None)
            return
        self.attach(inst)

    def attach(self, inst: Instance) -> None:
        self.instance = inst
        self.attempts += 1
        inst.in_flight += 1
        conn = inst.take_idle()
        if conn is None:
            self.phase = CONNECTING
            self.sent_at = self.client.router.loop.time()  # precise: timeouts must not fire early
            self.client.router.connect(self, inst)
        else:
            self.connected(conn)

    def connected(self, conn: UpstreamConnection) -> None:
        self.connect_task = None
        self.conn = conn
        conn.bind(self)
        self.phase = SENT
        self.sent_at = self.client.router.loop.time()  # precise: timeouts must not fire early
        if self.attempts > 1 and self.log is not None:
            data = b"".join([self.req.head, *self.log])
        elif self.unsent:
            data = b"".join([self.req.head, *self.unsent])
            self.unsent = []
            self.unsent_size = 0
        else:
            data = self.req.head
        self.write_up(data)
        if self.client.paused:
            self.client.resume(PAUSE_BUFFER)

    def connect_failed(self, inst: Instance, kind: str) -> None:
        if self.phase != CONNECTING or self.instance is not inst:
            return
        self.fail_attempt(kind, None)

    def fail_attempt(self, kind: str, conn: UpstreamConnection | None) -> None:
        """The current attempt failed: retry elsewhere, answer 502/504, or cut the client."""
        inst = self.instance
        assert inst is not None
        router = self.client.router
        inst.stats.errors[kind] += 1
        reused = conn is not None and conn.served > 0
        began = conn is not None and conn.got_bytes
        if conn is not None:
            self.conn = None
            conn.abort()
        # A pooled connection that died before answering was closed by the upstream
        # while idle: the instance is fine, the connection was stale.
        stale = kind == RESET and reused and not began
        if kind in (CONNECT, RESET) and not stale:
            inst.note_error()
        inst.finished_one()
        if self.phase == RESPONDING:
            # The client already has part of the answer: nothing can mend it.
            self.record(502)
            self.phase = DONE
            self.client.abort()
            return
        retry = self.attempts <= router.settings.retries and may_retry(
            kind,
            reused=reused,
            response_began=began,
            idempotent=self.req.idempotent,
            retry_on_reset=router.settings.retry_idempotent_on_reset,
            body_replayable=self.log is not None or self.req.body == BODY_NONE,
        )
        if retry:
            if stale and inst.routable:
                inst.close_idle()  # its siblings are likely stale too: use a new connection
                nxt: Instance | None = inst
            else:
                self.tried.append(inst)
                nxt = self.next_instance()
            if nxt is not None:
                inst.stats.retries += 1
                self.attach(nxt)
                return
        else:
            self.tried.append(inst)
        if kind == TIMEOUT:
            self.respond_error(504, "the upstream did not answer in time", inst)
        else:
            self.respond_error(502, f"the upstream failed ({kind})", inst)

    def next_instance(self) -> Instance | None:
        pool = self.pool
        assert pool is not None
        inst = pool.pick(self.tried)
        if inst is not None or self.pinned:
            return inst
        table = self.client.router.table
        for other in table.avail_pools:
            if other is not pool:
                inst = other.pick(self.tried)
                if inst is not None:
                    self.relabel(pool, other)
                    self.pool = other
                    return inst
        return None

    def relabel(self, old: LivePool, new: LivePool) -> None:
        """A retry moved the request to another pool: its cohort label follows it."""
        cohorts = self.client.router.table.cohort_lines
        if not cohorts:
            return
        was, now = cohorts.get(old.name), cohorts.get(new.name)
        if was is None or now is None:  # the table changed under the request
            return
        req = self.req
        if req.head.endswith(was + b"\r\n"):
            req.head = req.head[: -len(was) - 2] + now + b"\r\n"
        if self.set_cookie.endswith(was):
            self.set_cookie = self.set_cookie[: -len(was)] + now

    # --- request body (from the client) ---------------------------------------------------

    def request_body(self, data: bytes) -> None:
        if self.phase >= DISCARDING:
            return
        self.received += len(data)
        limit = self.client.router.settings.max_body_bytes
        if limit and self.received > limit:
            if self.phase == RESPONDING:
                self.abandon()
                self.client.abort()
            else:
                self.client.fatal(BadRequest(413, f"request body larger than {limit} bytes"))
            return
        enc = http1.chunk(data) if self.req.body == BODY_CHUNKED else data
        log = self.log
        if log is not None:
            self.log_size += len(enc)
            if self.log_size > self.client.router.settings.retry_buffer_bytes:
                self.log = None
            else:
                log.append(enc)
        if self.conn is not None and self.phase in (SENT, RESPONDING):
            self.write_up(enc)
        else:
            self.unsent.append(enc)
            self.unsent_size += len(enc)
            if self.unsent_size > _UNSENT_LIMIT:
                self.client.pause(PAUSE_BUFFER)

    def request_end(self) -> None:
        self.request_done = True
        if self.req.body == BODY_CHUNKED and self.phase < DISCARDING:
            if self.log is not None:
                self.log.append(_LAST_CHUNK)
            if self.conn is not None and self.phase in (SENT, RESPONDING):
                self.write_up(_LAST_CHUNK)
            else:
                self.unsent.append(_LAST_CHUNK)
        if self.phase == DISCARDING:
            self.phase = DONE
            self.client.exchange_done(self, False)

    def write_up(self, data: bytes) -> None:
        if self.client.feeding:
            self.wbuf.append(data)
            self.client.to_flush = self
        else:
            conn = self.conn
            if conn is not None:
                conn.write(data)

    def flush_up(self) -> None:
        wbuf = self.wbuf
        data = wbuf[0] if len(wbuf) == 1 else b"".join(wbuf)
        self.wbuf = []
        conn = self.conn
        if conn is not None and data:
            conn.write(data)

    # --- response (from the upstream) -----------------------------------------------------

    def on_interim(self, status: int) -> None:
        if status == 100 and not self.continued and not self.req.http10:
            self.continued = True
            self.write_down(_CONTINUE)

    def on_response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], http10: bool
    ) -> None:
        client = self.client
        req = self.req
        keep = req.keep_alive and not client.closing and not client.router.closing
        if req.upgrade is not None or (
            req.expect_continue and not self.continued and not self.request_done
        ):
            # The client's parser is past this request (upgrade), or the body it
            # announced may never come (rejected expectation): close afterwards.
            keep = False
        resp = http1.forward_response_head(
            status, reason, http10, headers, req.method, req.http10, keep, self.set_cookie
        )
        self.resp = resp
        self.status = status
        self.phase = RESPONDING
        inst = self.instance
        assert inst is not None
        if status >= 500:
            pool = self.pool
            others = pool is not None and any(i is not inst for i in pool.available)
            inst.note_5xx(others)
        elif inst.consecutive_errors or inst.consecutive_5xx:
            inst.note_success()
        self.write_down(resp.head)
        if resp.body == BODY_NONE and req.method == b"HEAD":
            self.on_response_end()

    def on_response_body(self, data: bytes) -> None:
        resp = self.resp
        if resp is None or self.phase != RESPONDING:
            return
        if resp.client_body == BODY_CHUNKED:
            if data:
                self.write_down(http1.chunk(data))
        else:
            self.write_down(data)

    def on_response_end(self) -> None:
        if self.phase != RESPONDING:
            return
        resp = self.resp
        assert resp is not None
        if resp.client_body == BODY_CHUNKED:
            self.write_down(_LAST_CHUNK)
        inst = self.instance
        assert inst is not None
        inst.stats.record(self.status, perf_counter() - self.t0)
        conn = self.conn
        self.conn = None
        if conn is not None:
            conn.unbind()
            if resp.reusable and self.request_done:
                inst.release(conn)
            else:
                conn.close()
        inst.finished_one()
        self.flush_down()
        if not self.request_done:
            # The upstream answered before the whole body arrived: read and drop the rest.
            self.phase = DISCARDING
            if resp.close_client:
                self.client.exchange_done(self, True)
            return
        self.phase = DONE
        self.client.exchange_done(self, resp.close_client)

    def eof_delimited_response(self) -> bool:
        return self.phase == RESPONDING and self.resp is not None and self.resp.body == BODY_EOF

    def write_down(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None and conn.feeding:
            self.cbuf.append(data)
        else:
            self.client.write(data)

    def flush_down(self) -> None:
        cbuf = self.cbuf
        if cbuf:
            self.cbuf = []
            self.client.write(cbuf[0] if len(cbuf) == 1 else b"".join(cbuf))

    # --- upgrade tunnel -------------------------------------------------------------------

    def on_switch(self, reason: bytes, headers: list[tuple[bytes, bytes]], rest: bytes) -> None:
        conn = self.conn
        if self.req.upgrade is None or conn is None:
            self.fail_attempt(RESET, conn)
            return
        self.status = 101
        self.phase = TUNNEL
        conn.tunnel = True
        client = self.client
        client.tunnel = self
        client.write(http1.forward_switching_head(reason, headers) + rest)
        if self.early:
            conn.write(b"".join(self.early))
            self.early = []
        self.record(101)
        client.resume(PAUSE_QUEUE | PAUSE_BUFFER)

    def tunnel_up(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None:
            conn.write(data)

    def tunnel_down(self, data: bytes) -> None:
        self.client.write(data)

    def tunnel_closed(self) -> None:
        """Either side of a tunnel closed: close the other, let buffered bytes drain."""
        if self.phase != TUNNEL:
            return
        self.phase = DONE
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        inst = self.instance
        if inst is not None:
            inst.finished_one()
        self.client.close()

    # --- endings --------------------------------------------------------------------------

    def respond_error(self, status: int, message: str, inst: Instance | None) -> None:
        """Answer the client ourselves (502/503/504) and account for it."""
        close = not self.request_done or not self.req.keep_alive or self.client.router.closing
        self.status = status
        if inst is not None:
            inst.stats.record(status, perf_counter() - self.t0)
        elif self.pool is not None:
            self.client.router.pool_remainder(self.pool.name).record(
                status, perf_counter() - self.t0
            )
        self.phase = DONE
        extra = b"X-Turnout-Error: " + message.encode() + b"\r\n"
        self.client.write(error_response(status, message, close, extra))
        self.client.exchange_done(self, close)

    def record(self, status: int) -> None:
        inst = self.instance
        if inst is not None:
            inst.stats.record(status, perf_counter() - self.t0)

    def abandon(self) -> None:
        """The client went away or broke the protocol: drop the attempt, keep nothing."""
        phase = self.phase
        self.phase = DONE
        if phase in (DONE, DISCARDING, QUEUED):
            return
        conn, self.conn = self.conn, None
        if conn is not None:
            if phase == TUNNEL:
                conn.close()  # let the bytes already relayed reach the app
            else:
                conn.abort()
        inst = self.instance
        if inst is not None:
            inst.finished_one()
        if phase != TUNNEL:
            self.client.router.client_aborts += 1

    def check_timeouts(self, now: float) -> None:
        settings = self.client.router.settings
        phase = self.phase
        if phase == CONNECTING:
            if now - self.sent_at > settings.connect_timeout and self.connect_task is not None:
                self.connect_task.cancel()  # the done callback reports a connect failure
        elif phase == SENT:
            conn = self.conn
            if (
                conn is not None
                and not conn.got_bytes
                and now - self.sent_at > settings.response_timeout
            ) or (conn is not None and now - conn.last_io > settings.read_timeout):
                self.fail_attempt(TIMEOUT, conn)
        elif phase == RESPONDING:
            conn = self.conn
            if conn is not None and now - conn.last_io > settings.read_timeout:
                self.fail_attempt(TIMEOUT, conn)


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "active",
        "bad",
        "closed",
        "closing",
        "feeding",
        "head_bytes",
        "head_started",
        "headers",
        "headers_of_active",
        "ip",
        "last_active",
        "parser",
        "parsing",
        "paused",
        "proto",
        "queue",
        "router",
        "to_flush",
        "transport",
        "tunnel",
        "url",
    )

    def __init__(self, router: Router, proto: bytes = b"http") -> None:
        self.router = router
        self.proto = proto
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.ip = b""
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_of_active: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.head_started = 0.0
        self.active: Exchange | None = None  # the exchange being answered
        self.parsing: Exchange | None = None  # the exchange whose request is being read
        self.queue: deque[tuple[Exchange, list[tuple[bytes, bytes]]]] = deque()
        self.bad: BadRequest | None = None
        self.feeding = False
        self.to_flush: Exchange | None = None
        self.tunnel: Exchange | None = None
        self.paused = 0
        self.closing = False  # answer the current request, then close
        self.closed = False
        self.last_active = router.clock

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = t = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        router = self.router
        peer = t.get_extra_info("peername")
        self.ip = str(peer[0]).encode() if isinstance(peer, tuple) else b"127.0.0.1"
        if len(router.clients) >= router.settings.max_connections:
            router.rejected["max_connections"] += 1
            t.write(error_response(503, "too many connections", True))
            t.close()
            self.closed = True
            return
        router.clients.add(self)

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.tunnel_up(data)
            return
        if self.closed:
            return
        self.last_active = self.router.clock
        active = self.active
        if active is not None and active.req.upgrade is not None and self.parsing is None:
            # Bytes after an upgrade request, before the upstream switched: hold them.
            active.early.append(data)
            return
        self.feeding = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._after_upgrade_request(data[exc.args[0] :])
        except httptools.HttpParserCallbackError as exc:
            self.fatal(self.bad or BadRequest(400, str(exc)))
        except httptools.HttpParserError as exc:
            self.fatal(BadRequest(400, f"malformed request: {exc}"))
        finally:
            self.feeding = False
            ex = self.to_flush
            if ex is not None:
                self.to_flush = None
                ex.flush_up()

    def eof_received(self) -> bool:
        tunnel = self.tunnel
        if tunnel is not None:
            # A tunnel may be half-closed: pass the client's end-of-stream on.
            conn = tunnel.conn
            if conn is not None and conn.transport is not None and conn.transport.can_write_eof():
                conn.transport.write_eof()
            return True
        # Like nginx, a client that closed its side is gone: stop the work done for it
        # (the upstream connection is cut, the instance freed) rather than answer nobody.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.router.clients.discard(self)
        active, self.active = self.active, None
        if active is not None:
            active.abandon()
        for ex, _ in self.queue:
            ex.abandon()
        self.queue.clear()

    def pause_writing(self) -> None:
        ex = self.tunnel or self.active
        if ex is not None and ex.conn is not None and ex.conn.transport is not None:
            ex.conn.transport.pause_reading()

    def resume_writing(self) -> None:
        ex = self.tunnel or self.active
        if ex is not None and ex.conn is not None and ex.conn.transport is not None:
            ex.conn.transport.resume_reading()

    # --- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.head_bytes = 0
        self.head_started = self.router.clock

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > self.router.max_header_bytes:
            self.bad = BadRequest(414, "request target too long")
            raise self.bad

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        headers.append((name, value))
        self.head_bytes += len(name) + len(value) + 4
        router = self.router
        if self.head_bytes > router.max_header_bytes or len(headers) > router.max_headers:
            self.bad = BadRequest(431, "request header fields too large")
            raise self.bad

    def on_headers_complete(self) -> None:
        parser = self.parser
        router = self.router
        try:
            req = http1.forward_request_head(
                parser.get_method(),
                parser.get_http_version(),
                self.url,
                self.headers,
                self.ip,
                self.proto,
                upgrades=router.upgrades,
            )
        except BadRequest as exc:
            self.bad = exc
            raise
        limit = router.max_body_bytes
        if limit and req.length > limit:
            self.bad = BadRequest(413, f"request body larger than {limit} bytes")
            raise self.bad
        self.head_started = 0.0
        ex = Exchange(self, req)
        self.parsing = ex
        if self.active is None:
            self.active = ex
            self.headers_of_active = self.headers
            ex.start()
        else:
            self.queue.append((ex, self.headers))
            self.pause(PAUSE_QUEUE)

    def on_body(self, body: bytes) -> None:
        ex = self.parsing
        if ex is not None:
            ex.request_body(body)

    def on_message_complete(self) -> None:
        ex = self.parsing
        self.parsing = None
        if ex is not None:
            ex.request_end()

    # --- used by exchanges ----------------------------------------------------------------

    def _after_upgrade_request(self, rest: bytes) -> None:
        active = self.active
        if active is None:
            return
        if active.req.upgrade is None:
            # An upgrade we do not allow (e.g. h2c): served as a plain request; the
            # parser cannot continue past it, so the connection closes afterwards.
            self.closing = True
            return
        if rest:
            active.early.append(rest)

    def exchange_done(self, ex: Exchange, close: bool) -> None:
        if self.active is not ex:
            return
        self.active = None
        self.last_active = self.router.clock
        if close or self.closing or self.closed:
            self.close()
            return
        if self.bad is not None and not self.queue:
            self._send_fatal()
            return
        if self.queue:
            nxt, headers = self.queue.popleft()
            self.active = nxt
            self.headers_of_active = headers
            if not self.queue:
                self.resume(PAUSE_QUEUE)
            nxt.start()
            if self.to_flush is nxt and not self.feeding:
                self.to_flush = None
                nxt.flush_up()
        else:
            self.resume(PAUSE_QUEUE)

    def fatal(self, bad: BadRequest) -> None:
        """A protocol error: answer it after any earlier responses, then close."""
        self.bad = bad
        self.router.rejected[f"{bad.status}"] += 1
        self.pause(PAUSE_CLOSING)
        if self.parsing is not None and self.parsing is not self.active:
            # The broken request was queued behind the active one: it is never answered.
            self.queue = deque(e for e in self.queue if e[0] is not self.parsing)
        if self.active is None or self.active is self.parsing:
            if self.active is not None:
                self.active.abandon()
                self.active = None
            self._send_fatal()

    def _send_fatal(self) -> None:
        bad = self.bad
        assert bad is not None
        self.write(error_response(bad.status, bad.reason, True))
        self.close()

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not self.closed:
            t.write(data)

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.router.clients.discard(self)
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.router.clients.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def check_timeouts(self, now: float) -> None:
        settings = self.router.settings
        if self.tunnel is not None:
            return
        active = self.active
        if active is not None:
            if (
                not active.request_done
                and active.phase not in (TUNNEL,)
                and now - self.last_active > settings.body_timeout
            ):
                if active.phase in (RESPONDING, DISCARDING):
                    active.abandon()
                    self.abort()
                else:
                    active.abandon()
                    self.active = None
                    self.bad = BadRequest(408, "request body timed out")
                    self._send_fatal()
                return
            active.check_timeouts(now)
            return
        if self.head_started and now - self.head_started > settings.header_timeout:
            self.bad = BadRequest(408, "request head timed out")
            self._send_fatal()
        elif not self.head_started:
            idle_limit = (
                settings.idle_close_grace if self.router.closing else settings.keepalive_timeout
            )
            if now - self.last_active > idle_limit:
                self.close()
