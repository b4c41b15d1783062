"""Timelines, from the router's counters or from what the load's clients saw. Pure.

Two views of one deploy, with the same shape:

- ``from_samples``: the router's per-pool counters, sampled by the controller
  during every deploy (works for real traffic, no load generator needed);
- ``from_load``: the outcomes of a ``turnout verify`` / demo load run — the
  clients' view, which also counts refused connections and resets the router
  never saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Bucket", "Marker", "Timeline", "from_load", "from_samples", "quantile_from_hist"]


@dataclass(frozen=True)
class Bucket:
    start: float  # seconds since the timeline's start
    seconds: float
    ok: dict[str, int]  # served responses per release
    failed: int  # failed requests (5xx, refused, reset, timeout, ...)
    p99_ms: float | None = None

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + self.failed


@dataclass(frozen=True)
class Marker:
    at: float  # seconds since the timeline's start
    label: str
    kind: str = "step"  # step | switch | fail | rollback | done | info


@dataclass(frozen=True)
class Timeline:
    title: str
    started_at: float  # epoch seconds of t = 0
    source: str  # "router" or "clients"
    buckets: tuple[Bucket, ...]
    markers: tuple[Marker, ...] = ()
    summary: tuple[tuple[str, str], ...] = field(default=())

    @property
    def releases(self) -> list[str]:
        """Releases in order of first appearance."""
        seen: list[str] = []
        for b in self.buckets:
            for r, n in b.ok.items():
                if n and r not in seen:
                    seen.append(r)
        return seen

    @property
    def duration(self) -> float:
        return self.buckets[-1].start + self.buckets[-1].seconds if self.buckets else 0.0


def quantile_from_hist(counts: Sequence[int], bounds: Sequence[float], q: float) -> float | None:
    """The upper bound (seconds) of the histogram bucket holding quantile ``q``."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    running = 0
    for i, n in enumerate(counts):
        running += n
        if running >= rank:
            return bounds[i] if i < len(bounds) else (bounds[-1] * 2 if bounds else None)
    return None


def _sub(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [max(0.0, x - y) for x, y in zip(a, b, strict=False)]


def from_samples(
    samples: Sequence[dict[str, Any]],
    events: Iterable[dict[str, Any]],
    title: str,
    summary: Sequence[tuple[str, str]] = (),
) -> Timeline:
    """Rates between consecutive samples of the router's ``/v1/stats`` pools."""
    if not samples:
        return Timeline(title, 0.0, "router", (), (), tuple(summary))
    t0 = float(samples[0]["at"])
    buckets = []
    for prev, cur in itertools.pairwise(samples):
        seconds = float(cur["at"]) - float(prev["at"])
        if seconds <= 0:
            continue
        bounds = cur.get("bounds", [])
        ok: dict[str, int] = {}
        failed = 0
        hist: list[float] = []
        for pool, now in cur["pools"].items():
            before = prev["pools"].get(pool, {"codes": [0] * 5, "hist": [0] * len(now["hist"])})
            codes = _sub(now["codes"], before["codes"])
            served = int(sum(codes[:4]))
            if served:
                ok[pool] = served
            failed += int(codes[4])
            delta = _sub(now["hist"], before["hist"])
            hist = [a + b for a, b in zip(hist, delta, strict=False)] if hist else delta
        p99 = quantile_from_hist([int(x) for x in hist], bounds, 0.99) if hist else None
        buckets.append(
            Bucket(
                float(prev["at"]) - t0, seconds, ok, failed,
                None if p99 is None else p99 * 1000,
            )
        )  # fmt: skip
    return Timeline(title, t0, "router", tuple(buckets), markers(events, t0), tuple(summary))


def markers(events: Iterable[dict[str, Any]], t0: float) -> tuple[Marker, ...]:
    """Journal entries worth a line on the plot: finished steps, failures, the outcome."""
    out = []
    for e in events:
        at = float(e["at"]) - t0
        text = str(e["message"])
        if e["event"] == "end":
            kind = "switch" if text.startswith("route") else "step"
            out.append(Marker(at, text, kind if e.get("phase") != "rollback" else "rollback"))
        elif e["event"] == "fail":
            out.append(Marker(at, text, "fail"))
        elif e["event"] == "info" and e.get("step", -1) >= 0 and "resuming" not in text:
            out.append(Marker(at, text, "done"))
    return tuple(out)


def from_load(
    outcomes: Sequence[Any],
    bucket_s: float,
    title: str,
    started_at: float,
    marks: Sequence[Marker] = (),
    summary: Sequence[tuple[str, str]] = (),
    until: float | None = None,
) -> Timeline:
    """Buckets of the clients' outcomes (``turnout.harness`` ``Outcome``s) by end time;
    outcomes ending after ``until`` (the load window) are left out of the plot."""
    if until is not None:
        outcomes = [o for o in outcomes if o.end <= until]
    if not outcomes:
        return Timeline(title, started_at, "clients", (), tuple(marks), tuple(summary))
    end = max(o.end for o in outcomes)
    n = int(end // bucket_s) + 1
    ok: list[dict[str, int]] = [{} for _ in range(n)]
    failed = [0] * n
    latencies: list[list[float]] = [[] for _ in range(n)]
    for o in outcomes:
        i = min(n - 1, int(o.end // bucket_s))
        if o.ok:
            release = o.release or "?"
            ok[i][release] = ok[i].get(release, 0) + 1
            latencies[i].append(o.end - o.start)
        else:
            failed[i] += 1
    buckets = []
    for i in range(n):
        lat = sorted(latencies[i])
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else None
        buckets.append(Bucket(i * bucket_s, bucket_s, ok[i], failed[i], p99))
    return Timeline(title, started_at, "clients", tuple(buckets), tuple(marks), tuple(summary))
