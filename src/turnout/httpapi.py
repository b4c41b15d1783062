"""A small JSON-over-HTTP/1.1 server for the admin and controller APIs.

Not for the request path (the router's data plane has its own protocol code):
this is plain asyncio streams, one coroutine per connection. Routes are
``(method, pattern)`` where a pattern may hold ``{name}`` segments; handlers
get the path parameters, the query and the body, and return a ``Response`` or
raise a ``TurnoutError``, which maps to its HTTP status with a one-line
``{"error": ...}`` body. Mutations (anything but GET/HEAD) need the bearer token
when one is set; it is compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from turnout.errors import TurnoutError, UserError

MAX_BODY = 4 * 1024 * 1024
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        payload: Any = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body if body is not None else (json.dumps(payload) + "\n").encode()
        self.content_type = content_type
        self.headers = headers or {}

    def encode(self, keep_alive: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class StreamResponse:
    """A response whose body is produced over time (e.g. Server-Sent Events): written with
    chunked transfer encoding as the iterator yields; the connection closes at its end."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: AsyncIterator[bytes],
        content_type: str = "text/event-stream",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    def encode_head(self) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}",
            f"Content-Type: {self.content_type}",
            "Transfer-Encoding: chunked",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise UserError(f"request body: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UserError("request body: must be a JSON object")
        return data


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


@dataclass
class Routes:
    table: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    public: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)  # need no token

    def add(self, method: str, pattern: str, handler: Handler, *, public: bool = False) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
        compiled = re.compile(f"^{regex}$")
        self.table.append((method, compiled, handler))
        if public:
            self.public.append((method, compiled))

    def is_public(self, method: str, path: str) -> bool:
        return any(m == method and regex.match(path) for m, regex in self.public)

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], list[str]]:
        allowed: list[str] = []
        for m, regex, handler in self.table:
            found = regex.match(path)
            if found:
                if m == method:
                    return handler, {k: unquote(v) for k, v in found.groupdict().items()}, []
                allowed.append(m)
        return None, {}, allowed


class JsonServer:
    def __init__(self, routes: Routes, token: str | None) -> None:
        self.routes = routes
        self.token = token.encode() if token else None
        self.refusing: str | None = None
        self._idle: set[asyncio.StreamWriter] = set()

    def refuse(self, reason: str | None) -> None:
        """While ``reason`` is set, every request is answered ``503`` with ``Retry-After``
        and its connection closed, and idle connections are closed now: clients retry
        on a new connection (e.g. to a router's successor). ``None`` ends it."""
        self.refusing = reason
        if reason is not None:
            for writer in list(self._idle):
                writer.close()

    def authorized(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.refusing is None:
                self._idle.add(writer)
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 300)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(error(431, "request head too large").encode(False))
                    return
                finally:
                    self._idle.discard(writer)
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    writer.write(error(400, "malformed request line").encode(False))
                    return
                method, target, version = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "transfer-encoding" in headers:
                    writer.write(error(400, "send a Content-Length body").encode(False))
                    return
                try:
                    length = int(headers.get("content-length", "0") or 0)
                except ValueError:
                    writer.write(error(400, "bad Content-Length").encode(False))
                    return
                if length > MAX_BODY:
                    writer.write(error(413, f"body larger than {MAX_BODY} bytes").encode(False))
                    return
                body = await reader.readexactly(length) if length else b""
                keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
                if self.refusing is not None:
                    busy = Response(503, {"error": f"{self.refusing}; retry"},
                                    headers={"Retry-After": "0"})  # fmt: skip
                    writer.write(busy.encode(False))
                    await writer.drain()
                    return
                response = await self.dispatch(method, target, headers, body)
                if isinstance(response, StreamResponse):
                    await self._stream(writer, response)
                    return
                writer.write(response.encode(keep))
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _stream(self, writer: asyncio.StreamWriter, response: StreamResponse) -> None:
        writer.write(response.encode_head())
        try:
            async for chunk in response.body:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass  # the client went away
        finally:
            aclose = getattr(response.body, "aclose", None)
            if aclose is not None:
                await aclose()

    async def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Response | StreamResponse:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        handler, params, allowed = self.routes.match(method, path)
        if handler is None:
            if allowed:
                return error(405, f"{path} accepts {', '.join(allowed)}")
            return error(404, f"no such endpoint {path!r}")
        if (
            method not in ("GET", "HEAD")
            and not self.routes.is_public(method, path)
            and not self.authorized(headers)
        ):
            return Response(
                401,
                {"error": "a valid bearer token is required for changes"},
                headers={"WWW-Authenticate": 'Bearer realm="turnout"'},
            )
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        request = Request(method, path, params, query, headers, body)
        try:
            return await handler(request)
        except TurnoutError as exc:
            return error(exc.http_status, exc.message)
