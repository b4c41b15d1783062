"""Per-instance state in the router: admin state, health, ejection, load, counters.

An ``Instance`` outlives route-table generations: the same ``host:port`` in two
consecutive tables is the same object, with its health, idle connections and
counters. It is *routable* when it is ready (not draining), not retired from the
table, healthy (or its pool has no active checks) and not passively ejected.
Whenever that changes, the owner is told so it can recompute pool availability
once, instead of the request path checking every flag on every request.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Protocol

from turnout.core.health import Health, HealthState
from turnout.core.routes import PassiveSpec, parse_address

if TYPE_CHECKING:
    import asyncio

    from turnout.router.upstream import UpstreamConnection

# Histogram bounds in seconds (Prometheus ``le`` labels), dense below 100 ms.
LATENCY_BOUNDS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
ERROR_KINDS = ("connect", "reset", "timeout", "protocol")
READY = "ready"
DRAIN = "drain"


class Stats:
    """Counters for one instance (or the remainder of retired instances of a pool)."""

    __slots__ = ("codes", "dsum", "errors", "hist", "retries")

    def __init__(self) -> None:
        self.codes = [0] * 6  # index = status // 100 (1..5; 0 unused)
        self.hist = [0] * (len(LATENCY_BOUNDS) + 1)
        self.dsum = 0.0
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.retries = 0

    def record(self, status: int, seconds: float) -> None:
        self.codes[status // 100] += 1
        self.hist[bisect_left(LATENCY_BOUNDS, seconds)] += 1  # le: a value on a bound counts in it
        self.dsum += seconds

    def merge(self, other: Stats) -> None:
        for i, n in enumerate(other.codes):
            self.codes[i] += n
        for i, n in enumerate(other.hist):
            self.hist[i] += n
        self.dsum += other.dsum
        for k, n in other.errors.items():
            self.errors[k] += n
        self.retries += other.retries


class Owner(Protocol):
    def instance_changed(self, instance: Instance) -> None: ...

    def now(self) -> float: ...


class Instance:
    __slots__ = (
        "address",
        "admin",
        "checked",
        "connecting",
        "conns",
        "consecutive_5xx",
        "consecutive_errors",
        "drain_waiters",
        "ejected_until",
        "ejections",
        "health",
        "host",
        "idle",
        "in_flight",
        "max_connections",
        "max_idle",
        "owner",
        "passive",
        "pool",
        "port",
        "retired",
        "routable",
        "stats",
    )

    def __init__(self, address: str, owner: Owner, max_idle: int) -> None:
        self.address = address
        self.host, self.port = parse_address(address)
        self.owner = owner
        self.pool = ""
        self.admin = READY
        self.checked = False  # the pool has active health checks
        self.health = HealthState()
        self.passive = PassiveSpec()
        self.max_connections = 0
        self.max_idle = max_idle
        self.ejected_until = 0.0
        self.ejections = 0
        self.consecutive_errors = 0
        self.consecutive_5xx = 0
        self.in_flight = 0
        self.idle: list[UpstreamConnection] = []
        self.conns: set[UpstreamConnection] = set()
        self.connecting = 0
        self.retired = False
        self.routable = False
        self.stats = Stats()
        self.drain_waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        return f"<Instance {self.address} pool={self.pool} {self.describe_state()}>"

    # --- routability ----------------------------------------------------------------------

    def compute_routable(self, now: float) -> bool:
        return (
            self.admin == READY
            and not self.retired
            and (not self.checked or self.health.status is Health.HEALTHY)
            and self.ejected_until <= now
        )

    def refresh(self) -> None:
        """Recompute routability; tell the owner if it changed."""
        value = self.compute_routable(self.owner.now())
        if value != self.routable:
            self.routable = value
            self.owner.instance_changed(self)
        if not value:
            self.close_idle()

    def describe_state(self) -> str:
        if self.retired:
            return "retired"
        if self.admin != READY:
            return self.admin
        if self.ejected_until > self.owner.now():
            return "ejected"
        return self.health.status.value if self.checked else "unchecked"

    # --- passive ejection -----------------------------------------------------------------

    def note_success(self) -> None:
        self.consecutive_errors = 0
        self.consecutive_5xx = 0

    def note_error(self) -> bool:
        """A connect error or reset; True when this ejected the instance."""
        self.consecutive_errors += 1
        limit = self.passive.consecutive_errors
        return bool(limit) and self.consecutive_errors >= limit and self._eject()

    def note_5xx(self, others_routable: bool) -> bool:
        """A 5xx from the app. Never ejects the pool's last routable instance: a
        release that answers 500 must stay visible to analysis, not vanish."""
        self.consecutive_5xx += 1
        limit = self.passive.consecutive_5xx
        if not limit or self.consecutive_5xx < limit or not others_routable:
            return False
        return self._eject()

    def _eject(self) -> bool:
        if self.ejected_until > self.owner.now():
            return False
        # Like Envoy's outlier detection: each ejection in a row lasts longer (x1, x2, x3...).
        self.ejections += 1
        self.ejected_until = self.owner.now() + self.passive.ejection * min(self.ejections, 10)
        self.consecutive_errors = 0
        self.consecutive_5xx = 0
        self.refresh()
        return True

    # --- connection pool ------------------------------------------------------------------

    def take_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """A connection finished a response cleanly: keep it for the next request or close it."""
        if self.routable and len(self.idle) < self.max_idle and conn.usable():
            conn.idle_since = conn.router.clock
            self.idle.append(conn)
        else:
            conn.close()

    def close_idle(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()

    def expire_idle(self, older_than: float) -> None:
        if self.idle and self.idle[0].idle_since < older_than:
            keep = []
            for conn in self.idle:
                if conn.idle_since < older_than:
                    conn.close()
                else:
                    keep.append(conn)
            self.idle = keep

    def busy(self) -> int:
        """Connections in use or being opened (for ``max_connections``)."""
        return len(self.conns) - len(self.idle) + self.connecting

    # --- drain ----------------------------------------------------------------------------

    def finished_one(self) -> None:
        """Called when a request (or tunnel) on this instance ends."""
        self.in_flight -= 1
        if self.in_flight == 0 and self.drain_waiters:
            waiters, self.drain_waiters = self.drain_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
