"""A route table generation, compiled for the request path.

Built once per ``PUT /v1/routes`` from a validated ``RouteTableSpec``; the
router swaps it in with one assignment. The request path only reads it:
``select`` is a few dict and list lookups. Availability (which pools have a
routable instance) is recomputed when an instance changes state, not per
request.
"""

from __future__ import annotations

import os
from random import random

from turnout.core.routes import (
    RouteTableSpec,
    bucket_point,
    cumulative,
    pick_index,
    sticky_bucket,
)
from turnout.router.instances import Instance


class LivePool:
    __slots__ = ("available", "instances", "name", "spec", "weight")

    def __init__(self, name: str, instances: list[Instance], weight: int) -> None:
        self.name = name
        self.instances = instances
        self.weight = weight
        self.available: list[Instance] = [i for i in instances if i.routable]

    def refresh(self) -> None:
        self.available = [i for i in self.instances if i.routable]

    def pick(self, exclude: list[Instance] | None = None) -> Instance | None:
        """Least in-flight of two random routable instances (power of two choices)."""
        av = self.available
        if exclude:
            av = [i for i in av if i not in exclude]
        n = len(av)
        if n == 0:
            return None
        if n == 1:
            inst = av[0]
        else:
            a = av[int(random() * n)]
            b = av[int(random() * n)]
            inst = a if a.in_flight <= b.in_flight else b
        if inst.max_connections and inst.busy() >= inst.max_connections:
            for other in av:
                if not other.max_connections or other.busy() < other.max_connections:
                    return other
            return None
        return inst


class Rule:
    __slots__ = ("equals", "is_cookie", "name", "pool")

    def __init__(self, is_cookie: bool, name: str, equals: str | None, pool: LivePool) -> None:
        self.is_cookie = is_cookie
        self.name = name.lower().encode() if not is_cookie else name.encode()
        self.equals = equals.encode() if equals is not None else None
        self.pool = pool


def cookie_value(cookie_header: bytes | None, name: bytes) -> bytes | None:
    """The value of cookie ``name`` in a Cookie header, or None."""
    if not cookie_header:
        return None
    for part in cookie_header.split(b";"):
        key, sep, value = part.strip().partition(b"=")
        if sep and key == name:
            return value.strip(b'"')
    return None


# Result of routing one request: (pool, instance or None, pinned by a rule, Set-Cookie line).
Selection = tuple[LivePool, Instance | None, bool, bytes]


class LiveTable:
    def __init__(
        self, generation: int, spec: RouteTableSpec, instances: dict[str, Instance]
    ) -> None:
        self.generation = generation
        self.spec = spec
        self.pools: dict[str, LivePool] = {}
        for name, pool_spec in spec.pools.items():
            members = [instances[a] for a in pool_spec.instances]
            self.pools[name] = LivePool(name, members, spec.weights.get(name, 0))
        self.by_instance = {i.address: p for p in self.pools.values() for i in p.instances}
        self.rules = [
            Rule(r.cookie is not None, r.header or r.cookie or "", r.equals, self.pools[r.pool])
            for r in spec.rules
        ]
        self.has_header_rules = any(not r.is_cookie for r in self.rules)
        # Precomputed "<cohort header>: <pool>\r\n" per pool, when cohorts are labelled.
        self.cohort_lines: dict[str, bytes] = (
            {p: f"{spec.cohort_header}: {p}\r\n".encode() for p in self.pools}
            if spec.cohort_header
            else {}
        )
        sticky = spec.sticky
        self.sticky_cookie = sticky.cookie.encode() if sticky else b""
        self.sticky_salt = sticky.salt if sticky else ""
        attrs = [b"Path=/", b"HttpOnly", b"SameSite=Lax"]
        if sticky and sticky.max_age is not None:
            attrs.insert(1, b"Max-Age=%d" % int(sticky.max_age))
        self.sticky_attrs = b"; ".join(attrs)
        # Sticky ranges use the configured weights (stable under health flaps).
        weighted = [p for p in spec.weights if spec.weights[p] > 0]
        self.sticky_pools = [self.pools[p] for p in weighted]
        self.sticky_cum = cumulative([self.pools[p].weight for p in weighted])
        self.avail_pools: list[LivePool] = []
        self.avail_cum: list[int] = []
        self.refresh()

    def refresh(self, pool: LivePool | None = None) -> None:
        """Recompute availability after instances changed state."""
        if pool is None:
            for p in self.pools.values():
                p.refresh()
        else:
            pool.refresh()
        self.avail_pools = [p for p in self.sticky_pools if p.available]
        self.avail_cum = cumulative([p.weight for p in self.avail_pools])

    def select(self, headers: list[tuple[bytes, bytes]], cookie: bytes | None) -> Selection | None:
        """Pick a pool and an instance for a request; None when no pool is weighted."""
        if self.rules:
            pinned = self._match_rule(headers, cookie)
            if pinned is not None:
                return (pinned, pinned.pick(), True, b"")
        if self.sticky_cookie:
            return self._select_sticky(cookie)
        pools = self.avail_pools
        if not pools:
            return self._unavailable()
        if len(pools) == 1:
            pool = pools[0]
        else:
            cum = self.avail_cum
            pool = pools[pick_index(cum, random() * cum[-1])]
        return (pool, pool.pick(), False, b"")

    def _unavailable(self) -> Selection | None:
        # Weighted pools exist but none has a routable instance: a 503 for that pool.
        if self.sticky_pools:
            return (self.sticky_pools[0], None, False, b"")
        return None

    def _select_sticky(self, cookie: bytes | None) -> Selection | None:
        if not self.sticky_pools:
            return None
        client_id = cookie_value(cookie, self.sticky_cookie)
        set_cookie = b""
        if client_id is None:
            client_id = os.urandom(8).hex().encode()
            set_cookie = (
                b"Set-Cookie: " + self.sticky_cookie + b"=" + client_id + b"; "
                + self.sticky_attrs + b"\r\n"
            )  # fmt: skip
        bucket = sticky_bucket(client_id.decode("latin-1"), self.sticky_salt)
        cum = self.sticky_cum
        pool = self.sticky_pools[pick_index(cum, bucket_point(bucket, cum[-1]))]
        if not pool.available:
            # Its pool cannot take it now: serve it elsewhere without moving the cookie.
            pools = self.avail_pools
            if not pools:
                return (pool, None, False, set_cookie)
            acum = self.avail_cum
            pool = pools[pick_index(acum, random() * acum[-1])]
        return (pool, pool.pick(), False, set_cookie)

    def _match_rule(
        self, headers: list[tuple[bytes, bytes]], cookie: bytes | None
    ) -> LivePool | None:
        for rule in self.rules:
            if rule.is_cookie:
                value = cookie_value(cookie, rule.name)
            else:
                value = None
                for name, v in headers:
                    if len(name) == len(rule.name) and name.lower() == rule.name:
                        value = v
                        break
            if value is not None and (rule.equals is None or value == rule.equals):
                return rule.pool
        return None
