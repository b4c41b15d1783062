"""Answers that fit in one piece, built from plain values.

The ASGI and WSGI apps send these as they are; only the endpoints that wait or
stream (``/slow``, ``/stream``, ``/bytes``, ``/echo``, ``/ws``) have code of their
own in each app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from turnout.demo import routes
from turnout.demo.state import DemoState

__all__ = ["CRASH_EXIT_CODE", "Reply", "RequestInfo", "base_headers", "reply_for"]

CRASH_EXIT_CODE = 70  # EX_SOFTWARE: what --crash-after-requests exits with

TEXT = "text/plain; charset=utf-8"
_NO_BODY = (204, 304)


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    query: str
    http_version: str
    client: str | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def base_headers(state: DemoState, instance: str | None) -> list[tuple[str, str]]:
    """The headers on every response: the release, the instance, and the drain signal."""
    headers = [("x-release", state.release.version)]
    if instance:
        headers.append(("x-instance", instance))
    if state.draining:
        headers.append(("connection", "close"))
    return headers


def _text(status: int, base: list[tuple[str, str]], text: str, *extra: tuple[str, str]) -> Reply:
    body = text.encode()
    headers = (*base, ("content-type", TEXT), ("content-length", str(len(body))), *extra)
    return Reply(status, headers, body)


def _home(state: DemoState, base: list[tuple[str, str]]) -> Reply:
    status, converted = state.draw_home()
    extra = [("x-converted", "1" if converted else "0")] if state.release.conversion_rate else []
    if status != 200:
        return _text(status, base, f"{state.release.label}: injected error\n", *extra)
    return _text(200, base, f"{state.release.label}\n", *extra)


def _status(code: int, base: list[tuple[str, str]]) -> Reply:
    if code in _NO_BODY:
        return Reply(code, tuple(base), b"")
    return _text(code, base, f"status {code}\n")


def _headers(request: RequestInfo, base: list[tuple[str, str]]) -> Reply:
    document = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "http_version": request.http_version,
        "client": request.client,
        "headers": [list(pair) for pair in request.headers],
    }
    body = json.dumps(document).encode() + b"\n"
    headers = (*base, ("content-type", "application/json"), ("content-length", str(len(body))))
    return Reply(200, headers, body)


def reply_for(
    endpoint: routes.Endpoint, state: DemoState, request: RequestInfo, instance: str | None
) -> Reply | None:
    """The whole answer for ``endpoint``, or None when the app must wait or stream."""
    base = base_headers(state, instance)
    match endpoint:
        case routes.Home():
            return _home(state, base)
        case routes.Health():
            if state.healthy:
                return _text(200, base, "ok\n")
            return _text(503, base, "draining\n" if state.draining else "unhealthy\n")
        case routes.Headers():
            return _headers(request, base)
        case routes.Status(code):
            return _status(code, base)
        case routes.WebSocket():
            return _text(426, base, "use a WebSocket upgrade\n", ("upgrade", "websocket"))
        case routes.NotFound():
            return _text(404, base, "not found\n")
        case routes.MethodNotAllowed(allow):
            return _text(405, base, "method not allowed\n", ("allow", allow))
        case routes.BadRequest(message):
            return _text(400, base, message + "\n")
    return None
