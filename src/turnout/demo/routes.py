"""Which endpoint a request asks for, with its parameters checked.

Pure: a method, a path and a query string in, an endpoint value out. The ASGI
and WSGI apps both dispatch on the result, so they agree on every path, limit
and error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

__all__ = [
    "BadRequest",
    "Bytes",
    "Echo",
    "Endpoint",
    "Headers",
    "Health",
    "Home",
    "MethodNotAllowed",
    "NotFound",
    "Slow",
    "Status",
    "Stream",
    "WebSocket",
    "match",
]

# Limits keep one request from tying up the demo app for long or eating memory.
MAX_SLOW_MS = 60_000
MAX_CHUNKS = 100_000
MAX_CHUNK_BYTES = 1024 * 1024
MAX_INTERVAL_MS = 10_000
MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Home:
    pass


@dataclass(frozen=True)
class Health:
    pass


@dataclass(frozen=True)
class Slow:
    ms: int


@dataclass(frozen=True)
class Stream:
    chunks: int
    interval_ms: int
    size: int


@dataclass(frozen=True)
class Bytes:
    n: int


@dataclass(frozen=True)
class Echo:
    pass


@dataclass(frozen=True)
class Headers:
    pass


@dataclass(frozen=True)
class Status:
    code: int


@dataclass(frozen=True)
class WebSocket:
    pass


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class MethodNotAllowed:
    allow: str


@dataclass(frozen=True)
class BadRequest:
    message: str


Endpoint = (
    Home
    | Health
    | Slow
    | Stream
    | Bytes
    | Echo
    | Headers
    | Status
    | WebSocket
    | NotFound
    | MethodNotAllowed
    | BadRequest
)

_READ = ("GET", "HEAD")
_WRITE = ("POST", "PUT")


class _InvalidParamError(Exception):
    pass


def _int(query: dict[str, list[str]], name: str, default: int | None, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        if default is None:
            raise _InvalidParamError(f"{name} is required (an integer in {low}..{high})")
        return default
    try:
        value = int(values[-1])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise _InvalidParamError(f"{name} must be an integer in {low}..{high}, got {values[-1]!r}")
    return value


def _with_query(path: str, query: dict[str, list[str]]) -> Endpoint:
    if path == "/slow":
        return Slow(_int(query, "ms", 1500, 0, MAX_SLOW_MS))
    if path == "/stream":
        return Stream(
            chunks=_int(query, "chunks", 10, 0, MAX_CHUNKS),
            interval_ms=_int(query, "interval_ms", 100, 0, MAX_INTERVAL_MS),
            size=_int(query, "size", 1024, 1, MAX_CHUNK_BYTES),
        )
    return Bytes(_int(query, "n", None, 0, MAX_BYTES))


def _status(path: str) -> Endpoint:
    code_text = path.removeprefix("/status/")
    if not (code_text.isdigit() and 200 <= int(code_text) <= 599):
        return BadRequest(f"status must be an integer in 200..599, got {code_text!r}")
    return Status(int(code_text))


def match(method: str, path: str, query_string: str = "") -> Endpoint:
    """The endpoint for ``method path?query_string``."""
    if path in ("/echo",):
        return Echo() if method in _WRITE else MethodNotAllowed(", ".join(_WRITE))
    if method not in _READ:
        known = path in ("/", "/healthz", "/slow", "/stream", "/bytes", "/headers", "/ws")
        if known or path.startswith("/status/"):
            return MethodNotAllowed(", ".join(_READ))
        return NotFound()
    simple: dict[str, Endpoint] = {
        "/": Home(),
        "/healthz": Health(),
        "/headers": Headers(),
        "/ws": WebSocket(),
    }
    if path in simple:
        return simple[path]
    if path.startswith("/status/"):
        return _status(path)
    if path in ("/slow", "/stream", "/bytes"):
        try:
            return _with_query(path, parse_qs(query_string))
        except _InvalidParamError as exc:
            return BadRequest(str(exc))
    return NotFound()
