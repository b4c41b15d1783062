"""App-side helpers for zero-downtime swaps: ASGI and WSGI middleware.

Wrap your app once::

    from turnout.app import TurnoutASGI, TurnoutWSGI
    app = TurnoutASGI(app)            # uvicorn, hypercorn, granian
    application = TurnoutWSGI(app)    # gunicorn, uWSGI, mod_wsgi

What they do:

- **Drain on notice.** ``turnout run`` (and any supervisor that sets
  ``TURNOUT_DRAIN_FILE``) creates that file when it wants this process gone.
  From then on the health endpoint answers 503 — so load balancers that only know
  health checks stop sending traffic before the process stops accepting — every
  response carries ``Connection: close`` — so keep-alive clients move to the new
  process on their next request instead of racing a closing socket — and open
  WebSockets are closed with 1001 "going away". ``drain.start()`` does the same
  from code (e.g. a SIGTERM handler).
- **Readiness gate.** Until the app is ready the health endpoint answers 503:
  for ASGI, until the lifespan startup completed (when the server runs lifespan);
  or until ``readiness.set_ready()`` when a ``Readiness`` is passed.

The health path is answered by the middleware only while draining or not ready;
otherwise it goes to the app, so the app's own checks still run.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Generic, TypeVar

__all__ = ["Drain", "Readiness", "TurnoutASGI", "TurnoutWSGI"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_CLOSE = (b"connection", b"close")
_DRAINING = b'{"status": "draining"}\n'
_STARTING = b'{"status": "starting"}\n'
WS_QUIET_WAIT = 2.0  # seconds a draining WebSocket may owe a reply before it is closed


class Drain:
    """Whether this process was asked to drain: the file named by ``TURNOUT_DRAIN_FILE``
    exists (looked at most every ``every`` seconds), or ``start()`` was called."""

    def __init__(self, path: str | None = None, every: float = 0.1) -> None:
        self.path = path if path is not None else os.environ.get("TURNOUT_DRAIN_FILE")
        self.every = every
        self._started = False
        self._checked = 0.0
        self._seen = False

    def start(self) -> None:
        self._started = True

    @property
    def draining(self) -> bool:
        if self._started or self._seen:
            return True
        if self.path:
            now = time.monotonic()
            if now - self._checked >= self.every:
                self._checked = now
                self._seen = os.path.exists(self.path)
        return self._seen


class Readiness:
    def __init__(self, ready: bool = False) -> None:
        self._ready = threading.Event()
        if ready:
            self._ready.set()

    def set_ready(self) -> None:
        self._ready.set()

    def set_not_ready(self) -> None:
        self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


App = TypeVar("App")


class _Middleware(Generic[App]):
    """What the ASGI and WSGI middleware share: the health path they answer themselves
    while draining or not ready, the drain and the readiness gate."""

    def __init__(
        self,
        app: App,
        health_path: str = "/healthz",
        drain: Drain | None = None,
        readiness: Readiness | None = None,
    ) -> None:
        self.app = app
        self.health_path = health_path
        self.drain = drain or Drain()
        self.readiness = readiness

    def _ready(self) -> bool:
        return self.readiness is None or self.readiness.ready

    def _refusal(self, path: object) -> bytes | None:
        """The 503 body when ``path`` is the health check and the middleware answers it."""
        if path != self.health_path:
            return None
        if self.drain.draining:
            return _DRAINING
        return None if self._ready() else _STARTING


class TurnoutASGI(_Middleware[ASGIApp]):
    lifespan_seen = False  # the server runs the lifespan protocol (set per instance)
    started_up = False  # ... and the app answered its startup

    def _ready(self) -> bool:
        return super()._ready() and (self.started_up or not self.lifespan_seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.lifespan_seen = True
        answered = False

        async def watched(message: Message) -> None:
            nonlocal answered
            if message["type"] == "lifespan.startup.complete":
                self.started_up = True
            if message["type"].startswith("lifespan.startup."):
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if not answered:
                # The app does not run lifespan (it raised or returned without answering
                # the startup, as Django does): servers go on and serve it, so readiness
                # must not wait for a startup that never comes.
                self.lifespan_seen = False

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope.get("path"))
        if refusal is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json"), _CLOSE],
                }
            )
            await send({"type": "http.response.body", "body": refusal})
            return
        drain = self.drain

        async def closing(message: Message) -> None:
            # Decided when the response starts, not when the request came: a request
            # that began before the notice and ends after it must close its connection.
            if message["type"] == "http.response.start" and drain.draining:
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        await self.app(scope, receive, closing)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # On drain, the session is closed with 1001 at a quiet point, so no message is
        # cut in half: right after the app's next send, or at once if it owes no reply
        # (it has answered everything it received); an app that keeps a reply owed for
        # longer than WS_QUIET_WAIT is closed anyway.
        closed = asyncio.Event()
        accepted = asyncio.Event()
        went_away = False
        owed_since: float | None = None  # a message came in and the app has not sent since
        drain = self.drain

        async def go_away() -> None:
            nonlocal went_away
            if closed.is_set():
                return
            closed.set()
            went_away = True
            await send({"type": "websocket.close", "code": 1001, "reason": "going away"})

        async def tracked_receive() -> Message:
            nonlocal owed_since
            message = await receive()
            if message["type"] == "websocket.receive" and owed_since is None:
                owed_since = time.monotonic()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal owed_since
            if went_away:
                # We closed it (1001): a close of the app's own would be a second one,
                # which servers reject (RuntimeError); for anything else the connection
                # is gone, as after a client disconnect (ASGI: an OSError).
                if message["type"] == "websocket.close":
                    return
                raise OSError("WebSocket closed with 1001 (going away): the app is draining")
            kind = message["type"]
            if kind == "websocket.accept":
                accepted.set()
            elif kind == "websocket.close":
                closed.set()
            await send(message)
            if kind == "websocket.send":
                owed_since = None
                if drain.draining:
                    await go_away()  # right behind the reply

        async def going_away() -> None:
            while not closed.is_set():
                quiet = owed_since is None or time.monotonic() - owed_since > WS_QUIET_WAIT
                if accepted.is_set() and drain.draining and quiet:
                    await go_away()
                    return
                await asyncio.sleep(min(drain.every, 0.05))

        watcher = asyncio.get_running_loop().create_task(going_away())
        try:
            await self.app(scope, tracked_receive, tracked_send)
        finally:
            watcher.cancel()


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TurnoutWSGI(_Middleware[WSGIApp]):
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        refusal = self._refusal(environ.get("PATH_INFO"))
        if refusal is not None:
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Connection", "close")],
            )
            return [refusal]
        drain = self.drain

        def closing(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            # Servers that honour it (e.g. waitress, wsgiref) close the connection.
            # gunicorn drops hop-by-hop headers from the app; its start_response is a
            # method of its response, which has force_close() for exactly this.
            if drain.draining:
                kept = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers = [*kept, ("Connection", "close")]
                force_close = getattr(
                    getattr(start_response, "__self__", None), "force_close", None
                )
                if callable(force_close):
                    force_close()
            return start_response(status, headers, *exc)

        return self.app(environ, closing)
