"""What a judge sees and what it says. Pure values.

A metric source samples cumulative counters of the canary and of the baseline
(the stable release) every few seconds; a ``Window`` holds those samples from
the start of the analysis. A judge turns a window into a ``Judgement``: a closed
set of verdicts, a stable reason code, a message for people, the measurements it
used, and — when it cannot decide yet — how many more canary requests it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Counts", "Judgement", "Verdict", "Window"]


class Verdict(StrEnum):
    RUNNING = "running"  # not decided yet; keep sampling
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # the judge's rules say a human must decide
    NOT_ENOUGH_DATA = "not_enough_data"  # too few requests so far (not a failure)
    ERROR = "error"  # the metric source failed (no data where data must be)


@dataclass(frozen=True, slots=True)
class Counts:
    """Cumulative counters of one release at one moment (since the analysis began or
    since the router started: judges only ever use differences between samples)."""

    requests: int  # responses sent to clients
    errors: int  # of which failed (5xx, including the router's own 502/503/504)
    # Latency histogram: latency[i] counts responses in (bounds[i-1], bounds[i]] seconds,
    # the last entry those above bounds[-1] (so len(latency) == len(bounds) + 1). Per
    # bucket, NOT cumulative across buckets (a Prometheus source converts from ``le``);
    # like every field here it is a counter, cumulative over time.
    latency: tuple[int, ...] = ()
    bounds: tuple[float, ...] = ()  # histogram upper bounds in seconds


@dataclass(frozen=True, slots=True)
class Window:
    """Samples since the analysis began: ``times[i]`` (seconds, increasing) with the
    canary's and the baseline's cumulative counts at that time."""

    times: tuple[float, ...]
    canary: tuple[Counts, ...]
    baseline: tuple[Counts, ...]

    def __post_init__(self) -> None:
        if not (len(self.times) == len(self.canary) == len(self.baseline)):
            raise ValueError("times, canary and baseline must have the same length")

    @property
    def elapsed(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # stable code, e.g. "error_rate_increase", "within_tolerance"
    message: str  # one line for people
    measurements: dict[str, Any] = field(default_factory=dict)  # what the judge computed
    needed: int | None = None  # more canary requests needed for a decision, if known

    @property
    def final(self) -> bool:
        return self.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.ERROR)
