"""The admin API: a small JSON-over-HTTP/1.1 server on its own listener.

Not on the request path, so it is written plainly with asyncio streams. Reads
are open (the listener is loopback by default); every change needs the bearer
token when one is configured, compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from turnout.core.durations import parse_duration
from turnout.core.routes import parse_route_table
from turnout.errors import TurnoutError, UserError
from turnout.router import metrics

if TYPE_CHECKING:
    from turnout.router.server import Router

MAX_BODY = 4 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
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


def _error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UserError(f"request body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserError("request body: must be a JSON object")
    return data


def _duration(value: Any, field: str, default: float) -> float:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UserError(f"{field}: {exc}") from None


class AdminAPI:
    def __init__(self, router: Router) -> None:
        self.router = router
        token = router.settings.token
        self.token = token.encode() if token else None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(_error(431, "request head too large").encode(False))
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    writer.write(_error(400, "malformed request line").encode(False))
                    return
                method, target, version = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "transfer-encoding" in headers:
                    writer.write(_error(400, "send a Content-Length body").encode(False))
                    return
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    writer.write(_error(413, f"body larger than {MAX_BODY} bytes").encode(False))
                    return
                body = await reader.readexactly(length) if length else b""
                keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
                response = await self.dispatch(method, target, headers, body)
                writer.write(response.encode(keep))
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def authorized(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token
        )

    async def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Response:
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        routes = {
            "/v1/routes": {"GET": self.get_routes, "PUT": self.put_routes},
            "/v1/instances": {"GET": self.get_instances},
            "/v1/drain": {"POST": self.post_drain},
            "/v1/undrain": {"POST": self.post_undrain},
            "/v1/health": {"GET": self.get_health},
            "/metrics": {"GET": self.get_metrics},
        }
        handlers = routes.get(path)
        if handlers is None:
            return _error(404, f"no such endpoint {path!r}; see docs/router.md")
        handler = handlers.get(method)
        if handler is None:
            return _error(405, f"{path} accepts {', '.join(handlers)}")
        if method != "GET" and not self.authorized(headers):
            return Response(
                401,
                {"error": "a valid bearer token is required for changes"},
                headers={"WWW-Authenticate": 'Bearer realm="turnout"'},
            )
        try:
            return await handler(query, body)
        except TurnoutError as exc:
            return _error(exc.http_status, exc.message)

    async def get_routes(self, query: dict[str, str], body: bytes) -> Response:
        return Response(200, self.router.routes_view())

    async def put_routes(self, query: dict[str, str], body: bytes) -> Response:
        update = parse_route_table(body)
        wait = query.get("wait_healthy")
        timeout = _duration(wait, "wait_healthy", 0.0) if wait else None
        generation = await self.router.apply(update, wait_healthy=timeout)
        return Response(200, {"generation": generation})

    async def get_instances(self, query: dict[str, str], body: bytes) -> Response:
        return Response(200, self.router.instances_view())

    async def post_drain(self, query: dict[str, str], body: bytes) -> Response:
        data = _json_body(body)
        unknown = set(data) - {"pool", "instance", "timeout"}
        if unknown:
            raise UserError(
                f"drain: unknown key {sorted(unknown)[0]!r}; use pool, instance, timeout"
            )
        instances = self.router.resolve(data.get("pool"), data.get("instance"))
        timeout = _duration(data.get("timeout"), "timeout", 30.0)
        return Response(200, await self.router.drain(instances, timeout))

    async def post_undrain(self, query: dict[str, str], body: bytes) -> Response:
        data = _json_body(body)
        instances = self.router.resolve(data.get("pool"), data.get("instance"))
        return Response(200, await self.router.undrain(instances))

    async def get_health(self, query: dict[str, str], body: bytes) -> Response:
        router = self.router
        status = "closing" if router.closing else "ok"
        return Response(
            200 if not router.closing else 503,
            {"status": status, "generation": router.generation, "pid": __import__("os").getpid()},
        )

    async def get_metrics(self, query: dict[str, str], body: bytes) -> Response:
        return Response(
            200,
            body=metrics.render(self.router),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )
