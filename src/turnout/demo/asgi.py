"""The demo app as a plain ASGI callable (HTTP and WebSocket), no framework."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from turnout.demo import routes
from turnout.demo.content import pattern
from turnout.demo.release import DemoRelease
from turnout.demo.replies import CRASH_EXIT_CODE, RequestInfo, base_headers, reply_for
from turnout.demo.state import DemoState

__all__ = ["DemoASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PIECE = 64 * 1024  # /bytes is sent in pieces of this size


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _instance(scope: Scope) -> str | None:
    server = scope.get("server")
    if not server or server[1] is None:
        return None
    return f"{server[0]}:{server[1]}"


def _request_info(scope: Scope) -> RequestInfo:
    client = scope.get("client")
    return RequestInfo(
        method=scope["method"],
        path=scope["path"],
        query=scope["query_string"].decode("latin-1"),
        http_version=scope.get("http_version", "1.1"),
        client=f"{client[0]}:{client[1]}" if client else None,
        headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]),
    )


async def _start(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _raw(headers)})


async def _body(send: Send, body: bytes, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


class DemoASGIApp:
    """``DemoASGIApp(release)`` is an ASGI 3 app; ``.state`` is its live state."""

    def __init__(self, release: DemoRelease, state: DemoState | None = None) -> None:
        self.release = release
        self.state = state if state is not None else DemoState(release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _request_info(scope)
        endpoint = routes.match(request.method, request.path, request.query)
        if not isinstance(endpoint, routes.Health) and not self.state.admit():
            os._exit(CRASH_EXIT_CODE)
        if isinstance(endpoint, routes.Home) and self.release.latency_ms:
            await asyncio.sleep(self.release.latency_ms / 1000)
        instance = _instance(scope)
        reply = reply_for(endpoint, self.state, request, instance)
        if reply is not None:
            await _start(send, reply.status, list(reply.headers))
            await _body(send, reply.body)
            return
        base = base_headers(self.state, instance)
        match endpoint:
            case routes.Slow(ms):
                await asyncio.sleep(ms / 1000)
                body = f"slept {ms} ms\n".encode()
                await _start(send, 200, [*base, ("content-length", str(len(body)))])
                await _body(send, body)
            case routes.Stream(chunks, interval_ms, size):
                await _stream(send, base, chunks, interval_ms, size)
            case routes.Bytes(n):
                await _bytes(send, base, n)
            case routes.Echo():
                await _echo(scope, receive, send, base)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()  # websocket.connect
        if scope["path"] != "/ws":
            await send({"type": "websocket.close", "code": 1008})
            return
        if message["type"] != "websocket.connect":
            return
        headers = _raw(base_headers(self.state, _instance(scope)))
        await send({"type": "websocket.accept", "headers": headers})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def _stream(
    send: Send, base: list[tuple[str, str]], chunks: int, interval_ms: int, size: int
) -> None:
    headers = [*base, ("content-type", "application/octet-stream")]
    await _start(send, 200, headers)  # no content-length: the server uses chunked framing
    for index in range(chunks):
        if index and interval_ms:
            await asyncio.sleep(interval_ms / 1000)
        await _body(send, pattern(index * size, size), more=True)
    await _body(send, b"")


async def _bytes(send: Send, base: list[tuple[str, str]], n: int) -> None:
    headers = [*base, ("content-type", "application/octet-stream"), ("content-length", str(n))]
    await _start(send, 200, headers)
    for offset in range(0, n, _PIECE):
        await _body(send, pattern(offset, min(_PIECE, n - offset)), more=True)
    await _body(send, b"")


async def _echo(scope: Scope, receive: Receive, send: Send, base: list[tuple[str, str]]) -> None:
    """Send each piece of the request body back as soon as it arrives."""
    message = await receive()  # the first receive lets the server answer 100-continue
    headers = [*base, ("content-type", "application/octet-stream")]
    for name, value in scope["headers"]:
        if name == b"content-length":
            headers.append(("content-length", value.decode("latin-1")))
    await _start(send, 200, headers)
    while message["type"] == "http.request":
        body = message.get("body", b"")
        if body:
            await _body(send, body, more=True)
        if not message.get("more_body", False):
            break
        message = await receive()
    await _body(send, b"")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
