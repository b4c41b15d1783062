"""The route table: which pools exist, how traffic is split between them, and
which requests are pinned to one. Pure model, validation and selection math.

The router compiles a validated ``RouteTableSpec`` into lookup structures once
per generation (``turnout.router.table``); nothing here touches a socket.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import Annotated, Any

import mmh3
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from turnout.core.durations import format_duration, parse_duration
from turnout.core.health import parse_status_ranges
from turnout.core.validation import StrictModel, one_line
from turnout.errors import UserError

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token

STICKY_BUCKETS = 10_000


def parse_address(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9001"`` / ``"[::1]:9001"`` / ``"app.local:80"`` → (host, port)."""
    host, sep, port_s = value.rpartition(":")
    if not sep or not host or not port_s.isdigit():
        raise ValueError(f"{value!r} is not HOST:PORT")
    port = int(port_s)
    if not 0 < port < 65536:
        raise ValueError(f"{value!r}: port must be 1-65535")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{value!r} is not HOST:PORT")
        host = host[1:-1]
    return host, port


def _check_address(value: str) -> str:
    parse_address(value)
    return value


Address = Annotated[str, AfterValidator(_check_address)]


class HealthSpec(StrictModel):
    """Active health check of every instance of a pool."""

    path: str = "/healthz"
    interval: Duration = 1.0
    timeout: Duration = 1.0
    rise: int = Field(2, ge=1, le=100)
    fall: int = Field(2, ge=1, le=100)
    expect: str = "200-399"

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or any(c in v for c in " \r\n\t"):
            raise ValueError("must be a path starting with '/' and without spaces")
        return v

    @field_validator("expect")
    @classmethod
    def _expect(cls, v: str) -> str:
        parse_status_ranges(v)
        return v

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v


class PassiveSpec(StrictModel):
    """Passive ejection: an instance that keeps failing real requests is taken out."""

    consecutive_errors: int = Field(3, ge=0)  # connect refused/timeout, reset; 0 = off
    consecutive_5xx: int = Field(5, ge=0)  # 0 = off
    ejection: Duration = 10.0


class PoolSpec(StrictModel):
    instances: list[Address] = Field(default_factory=list)
    health: HealthSpec | None = None
    passive: PassiveSpec = PassiveSpec()
    max_connections: int = Field(0, ge=0)  # per instance; 0 = unlimited

    @field_validator("instances")
    @classmethod
    def _instances(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for addr in v:
            if addr in seen:
                raise ValueError(f"{addr!r} is listed twice")
            seen.add(addr)
        return v


class StickySpec(StrictModel):
    cookie: str = "turnout_sticky"
    max_age: Duration | None = 3600.0  # None: a session cookie
    salt: str = ""

    @field_validator("cookie")
    @classmethod
    def _cookie(cls, v: str) -> str:
        if not _TOKEN.match(v):
            raise ValueError("cookie name must be an HTTP token (letters, digits, !#$%&'*+.^_`|~-)")
        return v


class RuleSpec(StrictModel):
    """Pin matching requests to ``pool``: by header or by cookie, equal to a value or present."""

    header: str | None = None
    cookie: str | None = None
    equals: str | None = None
    pool: str

    @model_validator(mode="after")
    def _one_source(self) -> RuleSpec:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("a rule needs exactly one of 'header' or 'cookie'")
        name = self.header if self.header is not None else self.cookie
        assert name is not None
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a valid header or cookie name")
        return self


class RouteTableSpec(StrictModel):
    pools: dict[str, PoolSpec]
    weights: dict[str, int] = Field(default_factory=dict)
    sticky: StickySpec | None = None
    rules: list[RuleSpec] = Field(default_factory=list)
    # Release-level A/B: label each request (to the app) and response (to the client)
    # with the pool that served it, e.g. "x-turnout-cohort: v2".
    cohort_header: str | None = None

    @field_validator("cohort_header")
    @classmethod
    def _cohort_header(cls, v: str | None) -> str | None:
        if v is not None and not _TOKEN.match(v):
            raise ValueError("must be an HTTP header name")
        return v

    @field_validator("pools")
    @classmethod
    def _pool_names(cls, v: dict[str, PoolSpec]) -> dict[str, PoolSpec]:
        owner: dict[str, str] = {}
        for name, pool in v.items():
            if not _NAME.match(name):
                raise ValueError(
                    f"pool name {name!r} must be 1-63 letters, digits, '.', '_' or '-'"
                )
            for addr in pool.instances:
                if addr in owner:
                    raise ValueError(
                        f"instance {addr!r} is in pools {owner[addr]!r} and {name!r}; "
                        "an instance belongs to one pool"
                    )
                owner[addr] = name
        return v

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, int]) -> dict[str, int]:
        for name, w in v.items():
            if w < 0 or w > 1_000_000:
                raise ValueError(f"weight of {name!r} must be between 0 and 1000000")
        return v

    @model_validator(mode="after")
    def _references(self) -> RouteTableSpec:
        for name in self.weights:
            if name not in self.pools:
                raise ValueError(f"weights name pool {name!r}, which is not in 'pools'")
        for i, rule in enumerate(self.rules):
            if rule.pool not in self.pools:
                raise ValueError(f"rules[{i}] pins to pool {rule.pool!r}, which is not in 'pools'")
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=False)


class RouteTableUpdate(RouteTableSpec):
    """A ``PUT /v1/routes`` body: a table, optionally guarded by the generation it replaces."""

    expected_generation: int | None = None

    def table(self) -> RouteTableSpec:
        return RouteTableSpec.model_validate(self.model_dump(exclude={"expected_generation"}))


def parse_route_table(
    raw: bytes | str | dict[str, Any], source: str = "route table"
) -> RouteTableUpdate:
    """Validate a table from JSON bytes or a dict; ``UserError`` with one line if invalid."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{source}: must be a JSON object with 'pools' and 'weights'")
    try:
        return RouteTableUpdate.model_validate(raw)
    except ValidationError as exc:
        raise UserError(one_line(exc, source)) from None


# --- selection math -------------------------------------------------------------------------


def cumulative(weights: list[int]) -> list[int]:
    """Running totals: ``[90, 10]`` → ``[90, 100]``."""
    total = 0
    out: list[int] = []
    for w in weights:
        total += w
        out.append(total)
    return out


def pick_index(cum: list[int], point: float) -> int:
    """Index of the range holding ``point`` (0 <= point < cum[-1])."""
    return bisect_right(cum, point)


def sticky_bucket(client_id: str, salt: str) -> int:
    """The client's bucket in [0, STICKY_BUCKETS): stable for an id and salt."""
    return mmh3.hash(salt + client_id, signed=False) % STICKY_BUCKETS


def bucket_point(bucket: int, total: int) -> float:
    """Where a bucket falls on the cumulative weight line of ``total``."""
    return bucket * total / STICKY_BUCKETS
