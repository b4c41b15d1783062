"""Building ``Window`` values for the judges' tests: from per-interval usage, or simulated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from turnout.core.analysis.model import Counts, Window

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

# One side's usage in one interval: (requests, errors) or (requests, errors, per-bucket histogram)
Use = tuple[int, int] | tuple[int, int, Sequence[int]]


def _add(c: Counts, use: Use, bounds: tuple[float, ...]) -> Counts:
    hist = tuple(use[2]) if len(use) == 3 else (0,) * (len(bounds) + 1 if bounds else 0)
    if not bounds:
        return Counts(c.requests + use[0], c.errors + use[1])
    latency = tuple(a + b for a, b in zip(c.latency, hist, strict=True))
    return Counts(c.requests + use[0], c.errors + use[1], latency, bounds)


def from_intervals(
    rows: Sequence[tuple[Use, Use]], interval: float = 5.0, bounds: tuple[float, ...] = ()
) -> Window:
    """Samples at 0, interval, 2*interval, ...; row k is what canary and baseline served
    in interval k+1."""
    empty = Counts(0, 0, (0,) * (len(bounds) + 1), bounds) if bounds else Counts(0, 0)
    times, canary, baseline = [0.0], [empty], [empty]
    for k, (c, b) in enumerate(rows, start=1):
        times.append(k * interval)
        canary.append(_add(canary[-1], c, bounds))
        baseline.append(_add(baseline[-1], b, bounds))
    return Window(tuple(times), tuple(canary), tuple(baseline))


def simulate(seed: int, p0: float, p1: float, rate: float, share: float, seconds: int) -> Window:
    """One sample per second of Poisson traffic split by ``share``, Bernoulli errors."""
    rng = np.random.default_rng(seed)
    arrivals = rng.poisson(rate, seconds)
    n1 = rng.binomial(arrivals, share)
    n0 = arrivals - n1
    x1, x0 = rng.binomial(n1, p1), rng.binomial(n0, p0)
    cum = [np.concatenate([[0], np.cumsum(a)]) for a in (n1, x1, n0, x0)]
    return Window(
        tuple(float(t) for t in range(seconds + 1)),
        tuple(Counts(int(a), int(b)) for a, b in zip(cum[0], cum[1], strict=True)),
        tuple(Counts(int(a), int(b)) for a, b in zip(cum[2], cum[3], strict=True)),
    )


def head(w: Window, samples: int) -> Window:
    """The window as the engine saw it after ``samples`` samples."""
    return Window(w.times[:samples], w.canary[:samples], w.baseline[:samples])
