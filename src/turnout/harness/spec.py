"""What a load run does: the target, its bounds and the mix of clients.

A ``LoadSpec`` is validated on construction (pydantic), so a bad value fails with
the field's name before any socket opens. Every run is bounded: by
``duration_s`` (at most ``MAX_DURATION_S``), by ``max_requests`` (at most
``MAX_REQUESTS``), or both. Targets must be loopback unless ``allow_remote``.

Each client kind takes a concurrency (how many clients of that kind run at
once) and an optional ``rate`` (requests per second for all of them together).
A bare integer stands for the concurrency: ``Mix(keepalive=4, post=1)``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from turnout.harness.accounting import Client

__all__ = [
    "MAX_DURATION_S",
    "MAX_REQUESTS",
    "KeepAliveClients",
    "LoadSpec",
    "Mix",
    "NewConnectionClients",
    "PostClients",
    "SlowClients",
    "StreamClients",
    "WebSocketClients",
]

MAX_DURATION_S = 3600.0
MAX_REQUESTS = 10_000_000
_LOOPBACK_NAMES = ("localhost",)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Clients(_Model):
    concurrency: int = Field(0, ge=0, le=2000, description="clients of this kind at once")
    rate: float | None = Field(None, gt=0, description="requests/s for all of them together")

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, value: Any) -> Any:
        return {"concurrency": value} if isinstance(value, int) else value


class KeepAliveClients(_Clients):
    """GET ``path`` over one persistent connection per client."""

    path: str = Field("/", pattern=r"^/\S*$")


class NewConnectionClients(_Clients):
    """GET ``path`` over a new TCP connection per request (``Connection: close``)."""

    path: str = Field("/", pattern=r"^/\S*$")


class PostClients(_Clients):
    """POST (or PUT) a body to /echo and check the echo byte for byte."""

    body_bytes: int = Field(4096, ge=0, le=16 * 1024 * 1024)
    framing: Literal["both", "content-length", "chunked"] = "both"  # "both" alternates
    method: Literal["POST", "PUT"] = "POST"
    idempotency_key: bool = True  # send an Idempotency-Key header on each request


class SlowClients(_Clients):
    """GET /slow?ms=N with N drawn from [min_ms, max_ms]."""

    min_ms: int = Field(1000, ge=0, le=60_000)
    max_ms: int = Field(2000, ge=0, le=60_000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_ms > self.max_ms:
            raise ValueError(f"min_ms ({self.min_ms}) must be <= max_ms ({self.max_ms})")
        return self


class StreamClients(_Clients):
    """GET /stream and check every byte and the length."""

    chunks: int = Field(20, ge=0, le=100_000)
    interval_ms: int = Field(50, ge=0, le=10_000)
    chunk_bytes: int = Field(1024, ge=1, le=1024 * 1024)


class WebSocketClients(_Clients):
    """Sessions on /ws: each sends ``messages_per_session`` messages and checks each echo.
    One message round trip counts as one request."""

    messages_per_session: int = Field(20, ge=1, le=1_000_000)
    interval_ms: int = Field(50, ge=0, le=60_000)
    message_bytes: int = Field(64, ge=1, le=1024 * 1024)


class Mix(_Model):
    """How many clients of each kind. ``Mix()`` has none; ``Mix.realistic()`` has some of all."""

    keepalive: KeepAliveClients = KeepAliveClients()
    newconn: NewConnectionClients = NewConnectionClients()
    post: PostClients = PostClients()
    slow: SlowClients = SlowClients()
    stream: StreamClients = StreamClients()
    websocket: WebSocketClients = WebSocketClients()

    @classmethod
    def realistic(cls) -> Mix:
        """A bit of everything, light enough to share two cores with a router and apps."""
        return cls(keepalive=4, newconn=2, post=2, slow=1, stream=1, websocket=1)

    def clients(self) -> dict[Client, _Clients]:
        return {
            Client.KEEPALIVE: self.keepalive,
            Client.NEWCONN: self.newconn,
            Client.POST: self.post,
            Client.SLOW: self.slow,
            Client.STREAM: self.stream,
            Client.WEBSOCKET: self.websocket,
        }

    @property
    def concurrency(self) -> int:
        return sum(c.concurrency for c in self.clients().values())


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoadSpec(_Model):
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    duration_s: float | None = Field(10.0, gt=0, le=MAX_DURATION_S)
    max_requests: int | None = Field(None, ge=1, le=MAX_REQUESTS)
    mix: Mix = Field(default_factory=Mix.realistic)
    headers: dict[str, str] = Field(default_factory=dict, description="added to every request")
    connect_timeout_s: float = Field(2.0, gt=0, le=60)
    request_timeout_s: float = Field(5.0, gt=0, le=600, description="beyond the asked-for wait")
    drain_timeout_s: float = Field(10.0, ge=0, le=600, description="stop() waits this long")
    failure_pause_s: float = Field(
        0.02, ge=0, le=10, description="a client's pause after a failure"
    )
    bucket_s: float = Field(1.0, gt=0, le=3600)
    first_failures: int = Field(20, ge=0, le=10_000)
    seed: int = 0
    allow_remote: bool = False
    users: int = Field(
        0, ge=0, le=1_000_000, description="GET clients act for this many users with cookie jars"
    )
    requests_per_user: int = Field(1, ge=1, le=100_000, description="a user's visit, in requests")
    cohort_header: str | None = Field(None, description="response header kept as the cohort")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.allow_remote and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not loopback; load is only sent to 127.0.0.1, "
                "localhost or ::1 unless allow_remote=True"
            )
        if self.mix.concurrency == 0:
            raise ValueError("the mix has no clients: give at least one kind a concurrency > 0")
        get_clients = self.mix.keepalive.concurrency + self.mix.newconn.concurrency
        if self.users and self.users < get_clients:
            raise ValueError(
                f"users ({self.users}) must be at least the GET clients ({get_clients}): "
                "two clients must not act for one user at once"
            )
        if self.cohort_header is not None and not re.fullmatch(
            r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", self.cohort_header
        ):
            raise ValueError(f"cohort_header: {self.cohort_header!r} is not a header name")
        for name, value in self.headers.items():
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ValueError(f"headers: {name!r}: {value!r} is not a valid header")
        return self

    @property
    def time_limit_s(self) -> float:
        """How long the run may generate load: ``duration_s``, or the hard cap."""
        return self.duration_s if self.duration_s is not None else MAX_DURATION_S

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
