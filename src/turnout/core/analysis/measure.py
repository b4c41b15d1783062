"""Turning a ``Window`` of cumulative counters into per-interval measurements.

Every judge starts here. Counters are cumulative, so a measurement is the
difference between two samples. A counter that went *down* was reset (the
router restarted): like Prometheus' ``increase()``, the later value is then taken
as the increase since the reset, for every counter of that release at once.

Intervals are cut at ``t0 + k * interval`` (``t0`` the window's first sample). The
sample that closes interval ``k`` is the first one taken at or after that time; if
the sampler skipped past several boundaries (the source was silent) the extra
intervals are empty, which the judges treat as "no data", the same as an interval
without requests.

Latency comes from the per-bucket histogram: quantiles are interpolated linearly
inside their bucket (Prometheus' ``histogram_quantile``); the mean uses bucket
midpoints (``Counts`` carries no latency sum), so it is an approximation whose
error is bounded by the bucket widths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.core.analysis.model import Counts, Window

__all__ = [
    "Interval",
    "Usage",
    "boundaries",
    "in_overflow",
    "intervals",
    "latency_mean",
    "latency_quantile",
    "metric_value",
    "running_requests",
    "total",
    "usage",
]

# Boundaries are matched with this much slack (relative to the interval), so a
# sample taken a hair early by a jittery clock still closes its interval.
_SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class Usage:
    """What one release served between two samples."""

    requests: int
    errors: int
    latency: tuple[int, ...] = ()  # per bucket, the last above bounds[-1]
    bounds: tuple[float, ...] = ()

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def __add__(self, other: Usage) -> Usage:
        if self.bounds == other.bounds and len(self.latency) == len(other.latency):
            latency = tuple(a + b for a, b in zip(self.latency, other.latency, strict=True))
            bounds = self.bounds
        else:  # histograms with different buckets cannot be added: keep the newer one
            latency, bounds = other.latency, other.bounds
        return Usage(self.requests + other.requests, self.errors + other.errors, latency, bounds)


def _reset(before: Counts, after: Counts) -> bool:
    if after.requests < before.requests or after.errors < before.errors:
        return True
    if after.bounds != before.bounds or len(after.latency) != len(before.latency):
        return True
    return any(b < a for a, b in zip(before.latency, after.latency, strict=True))


def usage(before: Counts, after: Counts) -> Usage:
    """What was served between two samples of one release (resets handled)."""
    if _reset(before, after):
        return Usage(after.requests, after.errors, after.latency, after.bounds)
    latency = tuple(b - a for a, b in zip(before.latency, after.latency, strict=True))
    requests, errors = after.requests - before.requests, after.errors - before.errors
    return Usage(requests, errors, latency, after.bounds)


def total(samples: Sequence[Counts], start: int = 0, end: int | None = None) -> Usage:
    """What was served from sample ``start`` to sample ``end`` (inclusive; default: the
    last), summed step by step so that a reset in between loses nothing."""
    stop = len(samples) - 1 if end is None else end
    if stop <= start:
        first = samples[start] if samples else Counts(0, 0)
        return Usage(0, 0, (0,) * len(first.latency), first.bounds)
    acc = usage(samples[start], samples[start + 1])
    for i in range(start + 1, stop):
        acc = acc + usage(samples[i], samples[i + 1])
    return acc


def running_requests(samples: Sequence[Counts]) -> list[int]:
    """Requests served since the first sample, at every sample (resets handled)."""
    out = [0] * len(samples)
    for i in range(1, len(samples)):
        out[i] = out[i - 1] + usage(samples[i - 1], samples[i]).requests
    return out


@dataclass(frozen=True, slots=True)
class Interval:
    """One completed measurement interval: samples ``start``..``end`` of the window."""

    index: int  # 1-based
    start: int
    end: int
    time: float  # when it closed (seconds since the window's first sample)
    canary: Usage
    baseline: Usage


def boundaries(times: Sequence[float], interval: float) -> list[int]:
    """Sample indices that close intervals 1, 2, ... (an index repeats when the sampler
    skipped past several boundaries)."""
    if len(times) < 2 or interval <= 0:
        return []
    t0, last = times[0], times[-1]
    count = math.floor((last - t0) / interval + _SLACK)
    out: list[int] = []
    i = 0
    for k in range(1, count + 1):
        due = t0 + k * interval - _SLACK * interval
        while times[i] < due:
            i += 1
        out.append(i)
    return out


def intervals(window: Window, interval: float, first_end: int = 0) -> list[Interval]:
    """The completed intervals of ``window``. With ``first_end`` > 0 the first interval
    reported is the first one closing at or after that sample, and it covers everything
    since the window's start (how ``min_requests`` delays the first measurement)."""
    out: list[Interval] = []
    previous = 0
    for k, end in enumerate(boundaries(window.times, interval), start=1):
        if end < first_end:
            continue
        start = 0 if not out else previous
        out.append(
            Interval(
                index=len(out) + 1,
                start=start,
                end=end,
                time=k * interval,
                canary=total(window.canary, start, end),
                baseline=total(window.baseline, start, end),
            )
        )
        previous = end
    return out


def latency_quantile(u: Usage, q: float) -> float | None:
    """The ``q`` quantile of latency in seconds, interpolated inside its bucket like
    Prometheus' ``histogram_quantile``; ``None`` without a histogram or responses. A
    quantile in the overflow bucket is reported as the highest finite bound."""
    n = sum(u.latency)
    if not u.bounds or n <= 0:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(u.latency):
        if count > 0 and seen + count >= rank:
            if i >= len(u.bounds):
                return u.bounds[-1]
            low = u.bounds[i - 1] if i > 0 else 0.0
            return low + (u.bounds[i] - low) * (rank - seen) / count
        seen += count
    return u.bounds[-1]


def in_overflow(u: Usage, q: float) -> bool:
    """Whether the ``q`` quantile lies above the highest finite bound (value unknown)."""
    n = sum(u.latency)
    return bool(u.bounds) and n > 0 and sum(u.latency[:-1]) < q * n


def latency_mean(u: Usage) -> float | None:
    """Mean latency in seconds from bucket midpoints (overflow counted at the top bound)."""
    n = sum(u.latency)
    if not u.bounds or n <= 0:
        return None
    acc = 0.0
    for i, count in enumerate(u.latency):
        if i >= len(u.bounds):
            acc += count * u.bounds[-1]
        else:
            low = u.bounds[i - 1] if i > 0 else 0.0
            acc += count * (low + u.bounds[i]) / 2
    return acc / n


def metric_value(name: str, u: Usage) -> float | None:
    """One of ``config.METRICS`` for what a release served; ``None`` when there is no
    data for it (no requests, or no latency histogram)."""
    if name == "error_rate":
        return u.error_rate
    if name == "latency_p50":
        return latency_quantile(u, 0.50)
    if name == "latency_p99":
        return latency_quantile(u, 0.99)
    if name == "latency_mean":
        return latency_mean(u)
    raise ValueError(f"unknown metric {name!r}")
