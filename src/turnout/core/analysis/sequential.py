"""An always-valid test of the canary's error rate against the baseline's.

Hypotheses, with ``p1`` the canary's error rate, ``p0`` the baseline's and ``d`` =
``max_error_rate_increase``: H0 ``p1 <= p0 + d`` (within tolerance) against H1
``p1 > p0 + d``. The judge may be asked after every sample, forever; it FAILs only
when H0 is rejected and PASSes only when ``p1 >= p0 + d`` is rejected, each with
error probability at most ``alpha`` whenever and however often it is checked.

Construction (exact, no normal approximation, so it holds at 0.1% error rates
and a handful of canary requests):

1. For one release with ``x`` errors in ``n`` requests and a hypothesised rate
   ``p``, the Beta(a, b)-mixture likelihood ratio (Robbins 1970)

       M(p) = B(a + x, b + n - x) / B(a, b) / (p^x (1 - p)^(n - x))

   is a nonnegative martingale with ``M = 1`` at the start when ``p`` is true,
   whatever order requests arrive in and however they are batched.
   ``a = 1/2`` and ``b = 1 / (2 * mixture_rate)``: among Beta(1/2, b) priors this
   puts about the most weight near ``mixture_rate``; it changes speed, never alpha.
2. The two releases' requests are independent, so for a pair ``(p0, p1)`` the
   product ``M1(p1) * ((1 - w) + w * M0(p0))`` is again such a martingale (``w`` =
   1/2: the constant 1 is itself a martingale, and mixing it in bounds what the
   baseline's own uncertainty can cost to a factor 2).
3. Ville's inequality: the probability that this product *ever* reaches
   ``1/alpha`` under the true ``(p0, p1)`` is at most ``alpha``. So the set of pairs
   whose product is below ``1/alpha`` is a confidence sequence, valid at all times
   at once (Howard et al. 2021). H0 is rejected when every pair in H0 has reached
   ``1/alpha``: ``G = min over H0 of log(product) >= log(1/alpha)``.
4. ``log M(p)`` is convex in ``p`` (a constant minus a log-likelihood) and
   log-sum-exp keeps convexity, so the log-product is jointly convex and its
   minimum over a half-plane not containing the maximum-likelihood point lies on
   the line ``p1 = p0 + d``: a one-dimensional convex problem, solved exactly by
   bisection on its monotone derivative. The same minimum decides PASS when the
   estimate lies on the other side of the line.

The always-valid interval for ``p1 - p0`` is the set of ``D`` whose line minimum
stays below ``log(1/alpha)``; FAIL is "its lower end is above d", PASS "its upper
end is below d". Assumes independent requests and rates that do not drift while
the analysis runs (a baseline incident that also hits the canary cancels out).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, expit, xlog1py, xlogy

from turnout.core.analysis.measure import total
from turnout.core.analysis.model import Judgement, Verdict, Window
from turnout.core.config import AnalysisConfig

__all__ = [
    "Evidence",
    "candidates",
    "evidence",
    "fail_candidates",
    "interval",
    "judge_sequential",
    "log_evidence",
    "needed",
]

A = 0.5  # first shape of the Beta mixtures
W = 0.5  # weight of the baseline's mixture against the constant martingale 1
STEPS = 48  # bisection steps: [0, 1] to 4e-15, far below any rate that matters
MAX_NEEDED = 10**8  # beyond this many canary requests, "not in sight"

Array = NDArray[np.float64]


def prior_b(mixture_rate: float) -> float:
    return 1.0 / (2.0 * mixture_rate)


def _f(v: ArrayLike) -> Array:
    out: Array = np.asarray(v, dtype=np.float64)
    return out


def log_martingale(n: Array, x: Array, p: Array, b: float) -> Array:
    """log M(p) for ``x`` errors in ``n`` requests (fractional counts allowed)."""
    out: Array = betaln(A + x, b + n - x) - betaln(A, b) - xlogy(x, p) - xlog1py(n - x, -p)
    return out


def _slope(n: Array, x: Array, p: Array) -> Array:
    """d/dp log M(p) = -x/p + (n-x)/(1-p) (increasing in p)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(x > 0, -x / p, 0.0) + np.where(n > x, (n - x) / (1 - p), 0.0)
    return out


def _line(p0: Array, d: Array, c: tuple[Array, ...], b: float) -> tuple[Array, Array]:
    """The log-product on the line p1 = p0 + d and its derivative in p0."""
    n1, x1, n0, x0 = c
    p1 = np.clip(p0 + d, 0.0, 1.0)  # rounding must not step outside [0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):  # +-inf at the ends of [0, 1]
        h = log_martingale(n0, x0, p0, b)
        base = np.logaddexp(math.log1p(-W), math.log(W) + h)
        value = log_martingale(n1, x1, p1, b) + base
        slope = _slope(n1, x1, p1) + _slope(n0, x0, p0) * expit(h + math.log(W / (1 - W)))
    return value, slope


def log_evidence(
    n1: ArrayLike, x1: ArrayLike, n0: ArrayLike, x0: ArrayLike, d: ArrayLike, mixture_rate: float
) -> tuple[Array, Array]:
    """``min over p0`` of the log-product on the line ``p1 = p0 + d`` (vectorised), and
    the minimising ``p0``. Compare with ``log(1/alpha)``."""
    *counts, dd = np.broadcast_arrays(_f(n1), _f(x1), _f(n0), _f(x0), _f(d))
    c = tuple(counts)
    lo = np.maximum(0.0, -dd)
    hi = np.minimum(1.0, 1.0 - dd)
    b = prior_b(mixture_rate)
    for _ in range(STEPS):
        mid = 0.5 * (lo + hi)
        _, slope = _line(mid, dd, c, b)
        up = slope > 0
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    p0 = 0.5 * (lo + hi)
    value, _ = _line(p0, dd, c, b)
    return value, p0


def candidates(
    n1: Array,
    x1: Array,
    n0: Array,
    x0: Array,
    d: float,
    mixture_rate: float,
    alpha: float,
    above: bool = True,
) -> NDArray[np.bool_]:
    """A cheap necessary condition for a decision (vectorised, for simulations): the
    estimate is on the ``above`` (FAIL) or the other (PASS) side of the line, and the
    canary alone, against ``p0_hat + d``, has the evidence. (The line minimum is at most
    its value at ``p0_hat``, where the baseline's factor is at most 1.)"""
    r1 = np.divide(x1, n1, out=np.zeros_like(x1), where=n1 > 0)
    r0 = np.divide(x0, n0, out=np.zeros_like(x0), where=n0 > 0)
    side = (r1 > r0 + d) & (n0 > 0) if above else r1 <= r0 + d
    p = np.clip(r0 + d, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = log_martingale(n1, x1, p, prior_b(mixture_rate))
    out: NDArray[np.bool_] = side & (n1 > 0) & (bound >= math.log(1 / alpha))
    return out


def fail_candidates(
    n1: Array, x1: Array, n0: Array, x0: Array, d: float, mixture_rate: float, alpha: float
) -> NDArray[np.bool_]:
    return candidates(n1, x1, n0, x0, d, mixture_rate, alpha, above=True)


class Evidence:
    """What the test says about one window's totals."""

    def __init__(self, n1: int, x1: int, n0: int, x0: int, cfg: AnalysisConfig) -> None:
        self.n1, self.x1, self.n0, self.x0 = n1, x1, n0, x0
        self.d = cfg.max_error_rate_increase
        self.alpha = cfg.alpha
        self.rate = cfg.mixture_rate
        self.r1 = x1 / n1 if n1 else 0.0
        self.r0 = x0 / n0 if n0 else 0.0
        self.above = n1 > 0 and self.r1 > self.r0 + self.d  # which side the estimate is on
        value, _ = log_evidence(n1, x1, n0, x0, self.d, self.rate)
        self.log_e = float(value)
        self.threshold = math.log(1 / self.alpha)

    @property
    def decided(self) -> bool:
        return self.log_e >= self.threshold

    @property
    def p_value(self) -> float:
        """Anytime-valid p-value of the hypothesis on the other side of the line."""
        return min(1.0, math.exp(-self.log_e)) if self.log_e > 0 else 1.0


def evidence(n1: int, x1: int, n0: int, x0: int, cfg: AnalysisConfig) -> Evidence:
    return Evidence(n1, x1, n0, x0, cfg)


def _edge(e: Evidence, sign: float) -> float:
    """The interval's end on one side: walk out from the estimate on a geometric grid
    of distances, then refine twice; returns the first point found outside the
    interval (so the reported interval errs on the wide side)."""
    centre = e.r1 - e.r0
    near, far = 1e-9, 1.0 + abs(centre)
    for grid in range(3):
        dist = np.geomspace(near, far, 64) if grid == 0 else np.linspace(near, far, 64)
        delta = np.clip(centre + sign * dist, -1.0, 1.0)
        value, _ = log_evidence(e.n1, e.x1, e.n0, e.x0, delta, e.rate)
        out = value >= e.threshold
        if not out.any():
            return float(delta[-1])
        i = int(np.argmax(out))
        if i == 0:
            return float(delta[0])
        near, far = float(dist[i - 1]), float(dist[i])
    return float(np.clip(centre + sign * far, -1.0, 1.0))


def interval(e: Evidence) -> tuple[float, float]:
    """The always-valid ``1 - alpha`` interval for ``p1 - p0``."""
    return _edge(e, -1.0), _edge(e, 1.0)


def needed(e: Evidence) -> int | None:
    """Canary requests still needed for a decision if the current rates (and the
    current baseline/canary traffic ratio) hold; None if no decision is in sight."""
    if e.n1 == 0:
        return None
    ratio = e.n0 / e.n1

    def decides(m: Array) -> NDArray[np.bool_]:
        value, _ = log_evidence(
            e.n1 + m, e.x1 + m * e.r1, e.n0 + m * ratio, e.x0 + m * ratio * e.r0, e.d, e.rate
        )
        return value >= e.threshold

    grid = np.geomspace(1.0, MAX_NEEDED, 112)
    ok = decides(grid)
    if not ok.any():
        return None
    i = int(np.argmax(ok))
    if i == 0:
        return 1
    fine = np.linspace(grid[i - 1], grid[i], 34)[1:]
    return math.ceil(float(fine[int(np.argmax(decides(fine)))]))


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def judge_sequential(cfg: AnalysisConfig, window: Window) -> Judgement:
    c = total(window.canary)
    b = total(window.baseline)
    e = evidence(c.requests, c.errors, b.requests, b.errors, cfg)
    low, high = interval(e)
    need = None if e.decided else needed(e)
    payload: dict[str, Any] = {
        "judge": "sequential",
        "canary": {"requests": c.requests, "errors": c.errors, "error_rate": e.r1},
        "baseline": {"requests": b.requests, "errors": b.errors, "error_rate": e.r0},
        "difference": {"estimate": e.r1 - e.r0, "lower": low, "upper": high, "level": 1 - e.alpha},
        "tolerance": e.d,
        "alpha": e.alpha,
        "mixture_rate": e.rate,
        "side": "above" if e.above else "within",
        "log_e_value": e.log_e,
        "log_threshold": e.threshold,
        "p_value": e.p_value,
        "elapsed": window.elapsed,
    }
    what = (
        f"canary {_pct(e.r1)} ({c.errors}/{c.requests}) vs baseline {_pct(e.r0)} "
        f"({b.errors}/{b.requests}); difference in [{_pct(low)}, {_pct(high)}]"
    )
    if c.requests < cfg.min_requests:
        more = cfg.min_requests - c.requests
        return Judgement(
            Verdict.NOT_ENOUGH_DATA, "too_few_requests",
            f"{c.requests} canary requests so far, no verdict before {cfg.min_requests}",
            payload, max(more, need or 0),
        )  # fmt: skip
    if e.decided and e.above:
        return Judgement(
            Verdict.FAIL, "error_rate_increase",
            f"{what}: more than {_pct(e.d)} above the baseline (p = {e.p_value:.2g})", payload,
        )  # fmt: skip
    if e.decided:
        return Judgement(
            Verdict.PASS, "within_tolerance",
            f"{what}: within {_pct(e.d)} of the baseline (p = {e.p_value:.2g})", payload,
        )  # fmt: skip
    if need is None:
        why = "the baseline served no requests" if b.requests == 0 else "at these rates"
        return Judgement(
            Verdict.RUNNING, "undecided", f"{what}: {why}, no decision is in sight", payload
        )
    return Judgement(
        Verdict.NOT_ENOUGH_DATA, "collecting",
        f"{what}: about {need} more canary requests to decide", payload, need,
    )  # fmt: skip
