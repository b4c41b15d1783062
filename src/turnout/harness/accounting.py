"""Counting what happened to every request of a load run. Pure: no I/O, no clock.

Each request ends as one ``Outcome``: a ``Kind`` (ok, or how it failed), the
``Stage`` it reached when it failed, the release that served it (its
``X-Release``) and its start and end, in seconds since the run started. A run's
outcomes are folded into a ``Summary`` by ``summarize``.

Failure kinds, most specific first:

- ``refused``: no TCP connection could be opened (refused, unreachable, no port).
- ``reset_before_response``: the connection broke (RST, or closed by the peer)
  after the request went out and before any byte of the response came back.
- ``reset_mid_response``: the connection was reset after part of the response.
- ``timeout``: no complete answer in time (``stage`` says where it hung).
- ``http_5xx``: a complete response with a 5xx status.
- ``unexpected_status``: a complete response with any other status than the one
  the request expects (e.g. 404 or 429 for ``GET /``).
- ``bad_body``: the status was right but the body was not: a stream or echo that
  differs from what was sent or asked for, or ends early (peer closed cleanly).
- ``protocol``: the bytes were not valid HTTP/1.1 (or WebSocket).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Bucket",
    "Client",
    "ClientStats",
    "Gap",
    "Kind",
    "Latency",
    "Outcome",
    "Stage",
    "Summary",
    "Switch",
    "find_switch",
    "latency_of",
    "longest_gap",
    "percentile",
    "summarize",
    "timeline",
]

UNKNOWN_RELEASE = "unknown"  # the release of a response without X-Release


class Kind(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    RESET_BEFORE_RESPONSE = "reset_before_response"
    RESET_MID_RESPONSE = "reset_mid_response"
    TIMEOUT = "timeout"
    HTTP_5XX = "http_5xx"
    UNEXPECTED_STATUS = "unexpected_status"
    BAD_BODY = "bad_body"
    PROTOCOL = "protocol"

    @property
    def is_reset(self) -> bool:
        return self in (Kind.RESET_BEFORE_RESPONSE, Kind.RESET_MID_RESPONSE)


class Stage(StrEnum):
    """How far a request got: the step that was under way when it ended."""

    CONNECT = "connect"  # opening the TCP connection (or the WebSocket handshake)
    HEAD = "head"  # request sent, waiting for or reading the response head
    BODY = "body"  # reading the response body (or waiting for a WebSocket echo)
    DONE = "done"  # the response was complete


class Client(StrEnum):
    """The kinds of simulated clients (see turnout.harness.spec)."""

    KEEPALIVE = "keepalive"
    NEWCONN = "newconn"
    POST = "post"
    SLOW = "slow"
    STREAM = "stream"
    WEBSOCKET = "websocket"


# Slow and streaming requests last as long as they are asked to: their latency
# would drown everyone else's, so the overall percentiles leave them out.
_LATENCY_CLIENTS = frozenset({Client.KEEPALIVE, Client.NEWCONN, Client.POST, Client.WEBSOCKET})


@dataclass(frozen=True, slots=True)
class Outcome:
    client: Client
    kind: Kind
    start: float  # seconds since the run started
    end: float
    release: str | None = None
    status: int | None = None
    stage: Stage = Stage.DONE
    converted: bool = False
    detail: str = ""
    user: int | None = None  # the simulated user (LoadSpec.users), when there are users
    cohort: str | None = None  # the response's LoadSpec.cohort_header, when asked for

    @property
    def ok(self) -> bool:
        return self.kind is Kind.OK

    @property
    def latency(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, object]:
        return {
            "client": self.client.value,
            "kind": self.kind.value,
            "stage": self.stage.value,
            "start": round(self.start, 6),
            "end": round(self.end, 6),
            "release": self.release,
            "status": self.status,
            "converted": self.converted,
            "detail": self.detail,
            **({"user": self.user} if self.user is not None else {}),
            **({"cohort": self.cohort} if self.cohort is not None else {}),
        }


@dataclass(frozen=True)
class Latency:
    """Latency percentiles in milliseconds (nearest-rank)."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class ClientStats:
    sent: int
    ok: int
    failed: int
    latency: Latency | None


@dataclass(frozen=True)
class Bucket:
    """Successful responses per release that ended in ``[start, start + width)``."""

    start: float
    width: float
    ok_by_release: dict[str, int]
    failed: int

    @property
    def ok(self) -> int:
        return sum(self.ok_by_release.values())

    def share(self, release: str) -> float:
        total = self.ok
        return self.ok_by_release.get(release, 0) / total if total else 0.0

    def majority(self) -> str | None:
        """The release that served strictly more than any other, if one did."""
        ranked = Counter(self.ok_by_release).most_common(2)
        if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
            return None
        return ranked[0][0]


@dataclass(frozen=True)
class Gap:
    """The longest time without a successful response: from ``start`` to ``end``."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Switch:
    """The first bucket whose majority release differs from the one before."""

    at: float
    from_release: str
    to_release: str


@dataclass(frozen=True)
class Summary:
    sent: int
    ok: int
    failed: int
    failed_by_kind: dict[str, int]
    latency: Latency | None
    by_client: dict[str, ClientStats]
    ok_by_release: dict[str, int]
    conversions_by_release: dict[str, int]
    first_seen: dict[str, float]
    last_seen: dict[str, float]
    timeline: tuple[Bucket, ...]
    longest_gap: Gap | None
    switch: Switch | None
    first_failures: tuple[Outcome, ...] = field(default=())

    def share(self, release: str) -> float:
        """Fraction of successful responses served by ``release``."""
        return self.ok_by_release.get(release, 0) / self.ok if self.ok else 0.0


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_of(outcomes: Iterable[Outcome]) -> Latency | None:
    """Percentiles of the latency of the successful outcomes, or None if there are none."""
    ms = sorted(o.latency * 1000 for o in outcomes if o.ok)
    if not ms:
        return None
    return Latency(len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), ms[-1])


def _release(outcome: Outcome) -> str:
    return outcome.release if outcome.release is not None else UNKNOWN_RELEASE


def timeline(outcomes: Iterable[Outcome], duration: float, width: float) -> tuple[Bucket, ...]:
    """Outcomes by the bucket their response ended in, from 0 to ``duration``."""
    if width <= 0:
        raise ValueError(f"bucket width must be > 0, got {width}")
    count = max(1, math.ceil(duration / width))
    ok: list[Counter[str]] = [Counter() for _ in range(count)]
    failed = [0] * count
    for o in outcomes:
        index = min(count - 1, max(0, int(o.end // width)))
        if o.ok:
            ok[index][_release(o)] += 1
        else:
            failed[index] += 1
    return tuple(
        Bucket(i * width, width, dict(sorted(ok[i].items())), failed[i]) for i in range(count)
    )


def longest_gap(outcomes: Iterable[Outcome], window: float | None = None) -> Gap | None:
    """The longest stretch without a success inside the load window ``[0, window]``:
    from its start to the first success, between two successive successes, or from
    the last success to its end. None when nothing succeeded in it."""
    ends = sorted(o.end for o in outcomes if o.ok and (window is None or o.end <= window))
    if not ends:
        return None
    if window is not None:
        ends.append(window)
    best = Gap(0.0, ends[0])
    for before, after in itertools.pairwise(ends):
        if after - before > best.seconds:
            best = Gap(before, after)
    return best


def find_switch(buckets: Iterable[Bucket]) -> Switch | None:
    """When the majority release first changes; buckets without a majority are skipped."""
    previous: str | None = None
    for bucket in buckets:
        current = bucket.majority()
        if current is None:
            continue
        if previous is not None and current != previous:
            return Switch(bucket.start, previous, current)
        previous = current
    return None


def _by_client(outcomes: Sequence[Outcome]) -> dict[str, ClientStats]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.client.value, []).append(o)
    stats = {}
    for name, group in sorted(groups.items()):
        ok = sum(1 for o in group if o.ok)
        stats[name] = ClientStats(len(group), ok, len(group) - ok, latency_of(group))
    return stats


def _seen(outcomes: Sequence[Outcome]) -> tuple[dict[str, float], dict[str, float]]:
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for o in outcomes:
        if o.ok:
            release = _release(o)
            first[release] = min(first.get(release, o.end), o.end)
            last[release] = max(last.get(release, o.end), o.end)
    return dict(sorted(first.items())), dict(sorted(last.items()))


def summarize(
    outcomes: Sequence[Outcome],
    *,
    duration: float,
    bucket_s: float = 1.0,
    first_failures: int = 20,
) -> Summary:
    """Fold the outcomes of a run into a ``Summary``. ``duration`` is the load window:
    from the start until the run was told to stop (requests finishing after it, while
    the run drained, are counted in the last bucket)."""
    ok_outcomes = [o for o in outcomes if o.ok]
    failures = sorted((o for o in outcomes if not o.ok), key=lambda o: (o.end, o.start))
    failed_by_kind = Counter(o.kind.value for o in failures)
    ok_by_release = Counter(_release(o) for o in ok_outcomes)
    conversions = Counter(_release(o) for o in ok_outcomes if o.converted)
    buckets = timeline(outcomes, duration, bucket_s)
    first_seen, last_seen = _seen(outcomes)
    return Summary(
        sent=len(outcomes),
        ok=len(ok_outcomes),
        failed=len(failures),
        failed_by_kind=dict(sorted(failed_by_kind.items())),
        latency=latency_of(o for o in ok_outcomes if o.client in _LATENCY_CLIENTS),
        by_client=_by_client(outcomes),
        ok_by_release=dict(sorted(ok_by_release.items())),
        conversions_by_release=dict(sorted(conversions.items())),
        first_seen=first_seen,
        last_seen=last_seen,
        timeline=buckets,
        longest_gap=longest_gap(ok_outcomes, duration),
        switch=find_switch(buckets),
        first_failures=tuple(failures[:first_failures]),
    )
