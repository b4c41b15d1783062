"""The demo app as a WSGI callable, for gunicorn or the stdlib's wsgiref.

Same endpoints and headers as the ASGI app, with two differences WSGI imposes:
``/ws`` answers 426 (WSGI has no WebSocket), and ``/headers`` lists the headers
the server put in the environ (names lower-cased, order and duplicates lost).
Draining is not wired to a signal here: the WSGI server owns the signals, so a
server hook calls ``app.state.start_draining()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from wsgiref.types import InputStream, StartResponse, WSGIEnvironment

from turnout.demo import routes
from turnout.demo.content import pattern
from turnout.demo.release import DemoRelease
from turnout.demo.replies import CRASH_EXIT_CODE, RequestInfo, base_headers, reply_for
from turnout.demo.state import DemoState

__all__ = ["DemoWSGIApp"]

_PIECE = 64 * 1024


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Status {code}"


def _request_info(environ: WSGIEnvironment) -> RequestInfo:
    headers = [
        (key[5:].replace("_", "-").lower(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), str(environ[key])))
    client = environ.get("REMOTE_ADDR")
    port = environ.get("REMOTE_PORT")
    protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
    return RequestInfo(
        method=str(environ["REQUEST_METHOD"]),
        path=str(environ.get("PATH_INFO", "/")) or "/",
        query=str(environ.get("QUERY_STRING", "")),
        http_version=protocol.removeprefix("HTTP/"),
        client=f"{client}:{port}" if client and port else client,
        headers=tuple(headers),
    )


class DemoWSGIApp:
    """``DemoWSGIApp(release)`` is a WSGI app; ``.state`` is its live state."""

    def __init__(self, release: DemoRelease, state: DemoState | None = None) -> None:
        self.release = release
        self.state = state if state is not None else DemoState(release)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _request_info(environ)
        endpoint = routes.match(request.method, request.path, request.query)
        if not isinstance(endpoint, routes.Health) and not self.state.admit():
            os._exit(CRASH_EXIT_CODE)
        if isinstance(endpoint, routes.Home) and self.release.latency_ms:
            time.sleep(self.release.latency_ms / 1000)
        instance = f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        reply = reply_for(endpoint, self.state, request, instance)
        if reply is not None:
            start_response(_status_line(reply.status), _hop_safe(reply.headers))
            return [reply.body]
        base = base_headers(self.state, instance)
        match endpoint:
            case routes.Slow(ms):
                time.sleep(ms / 1000)
                body = f"slept {ms} ms\n".encode()
                start_response("200 OK", _hop_safe([*base, ("content-length", str(len(body)))]))
                return [body]
            case routes.Stream(chunks, interval_ms, size):
                start_response("200 OK", _hop_safe([*base, ("content-type", _OCTETS)]))
                return _stream(chunks, interval_ms, size)
            case routes.Bytes(n):
                headers = [*base, ("content-type", _OCTETS), ("content-length", str(n))]
                start_response("200 OK", _hop_safe(headers))
                return (pattern(o, min(_PIECE, n - o)) for o in range(0, n, _PIECE))
            case _:  # routes.Echo
                return self._echo(environ, start_response, base)

    def _echo(
        self, environ: WSGIEnvironment, start_response: StartResponse, base: list[tuple[str, str]]
    ) -> Iterable[bytes]:
        headers = [*base, ("content-type", _OCTETS)]
        length_text = environ.get("CONTENT_LENGTH")
        length = int(length_text) if length_text else None
        if length is None and not environ.get("wsgi.input_terminated"):
            length = 0  # no framing the server vouches for: read nothing rather than block
        if length is not None:
            headers.append(("content-length", str(length)))
        start_response("200 OK", _hop_safe(headers))
        return _read_body(environ["wsgi.input"], length)


_OCTETS = "application/octet-stream"


def _hop_safe(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    # PEP 3333 forbids hop-by-hop headers from the app; the server decides to close.
    return [(name, value) for name, value in headers if name not in ("connection", "upgrade")]


def _stream(chunks: int, interval_ms: int, size: int) -> Iterator[bytes]:
    for index in range(chunks):
        if index and interval_ms:
            time.sleep(interval_ms / 1000)
        yield pattern(index * size, size)


def _read_body(stream: InputStream, length: int | None) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        piece = stream.read(_PIECE if remaining is None else min(_PIECE, remaining))
        if not piece:
            return
        if remaining is not None:
            remaining -= len(piece)
        yield piece
