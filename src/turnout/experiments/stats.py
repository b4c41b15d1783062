"""Per-variant summaries, the effect estimate, and the fixed-horizon Welch t-test.

Pure and synchronous (numpy/scipy only). Every test in this package compares one
treatment with the control through the same two numbers:

- the **estimate**: the relative lift ``(m_t - m_c) / r_c`` (``r_c`` is the control's
  unadjusted mean; with CUPED ``m`` is the adjusted mean) or, with ``relative=False``,
  the difference ``m_t - m_c``;
- its **variance** by the delta method (Deng et al. 2018, "Applying the delta method
  in metric analytics"): for the lift,
  ``s_t^2 / (r_c^2 n_t) + s_c^2 r_t^2 / (r_c^4 n_c)``; for the difference,
  ``s_t^2 / n_t + s_c^2 / n_c``.

``welch_test`` is Welch's unequal-variance t-test (Welch 1947) on that estimate, with
the Welch-Satterthwaite degrees of freedom ``(a + b)^2 / (a^2 / (n_c - 1) + b^2 /
(n_t - 1))`` where ``a = s_c^2 / n_c`` and ``b = s_t^2 / n_t``. With
``relative=False`` it is exactly ``scipy.stats.ttest_ind_from_stats(equal_var=False)``;
with the default ``relative=True`` its p-value tests the lift and agrees with the
interval it reports (the same statistic as GrowthBook's frequentist engine).

Variances per unit: a mean metric uses the unbiased sample variance; a proportion
``p (1 - p)``; a ratio metric (sum of a numerator over sum of a denominator, units
being the randomisation unit) its delta-method variance
``s_m^2 / d^2 - 2 cov m / d^3 + m^2 s_d^2 / d^4`` with ``m``, ``d`` the unit means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

__all__ = [
    "Moments",
    "NotEnoughData",
    "Sample",
    "TestResult",
    "estimate",
    "estimate_variance",
    "lift_and_variance",
    "ratio_sample",
    "srm_pvalue",
    "welch_dof",
    "welch_test",
]


class NotEnoughData(ValueError):
    """The data cannot support the test yet (too few units, no variance, a zero baseline)."""


@dataclass(frozen=True, slots=True)
class Moments:
    """Sums over the units of one variant: ``n``, the sum and the sum of squares.
    ``binary`` marks a 0/1 metric (its variance is ``p (1 - p)``)."""

    n: int
    sum: float
    sum_sq: float
    binary: bool = False

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.binary:
            p = self.mean
            return p * (1.0 - p)
        if self.n <= 1:
            return 0.0
        return max(0.0, (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1))

    def sample(self) -> Sample:
        m = self.mean
        return Sample(self.n, m, self.variance, m)


@dataclass(frozen=True, slots=True)
class Sample:
    """What a test needs of one variant: units, mean, variance per unit, and the mean
    before any CUPED adjustment (the denominator of a relative lift)."""

    n: int
    mean: float
    variance: float
    raw_mean: float

    @classmethod
    def of(cls, n: int, mean: float, variance: float) -> Sample:
        return cls(n, mean, variance, mean)


def ratio_sample(numerator: Moments, denominator: Moments, sum_products: float) -> Sample:
    """A ratio metric (``sum numerator / sum denominator``) over ``n`` units, with its
    delta-method variance per unit; ``sum_products`` is ``sum(num_i * den_i)``."""
    n = numerator.n
    if denominator.sum == 0 or n == 0:
        return Sample(n, 0.0, 0.0, 0.0)
    m, d = numerator.mean, denominator.mean
    ratio = numerator.sum / denominator.sum
    if n <= 1:
        return Sample(n, ratio, 0.0, ratio)
    cov = (sum_products - numerator.sum * denominator.sum / n) / (n - 1)
    var = numerator.variance / d**2 - 2 * cov * m / d**3 + m**2 * denominator.variance / d**4
    return Sample(n, ratio, max(0.0, var), ratio)


def lift_and_variance(
    n_c: Any, mean_c: Any, var_c: Any, n_t: Any, mean_t: Any, var_t: Any
) -> tuple[Any, Any]:
    """The relative lift and its delta-method variance, element-wise: floats or numpy
    arrays (the simulations in bench/experiments.py use this very function)."""
    lift = (mean_t - mean_c) / mean_c
    var = var_t / (mean_c**2 * n_t) + var_c * mean_t**2 / (mean_c**4 * n_c)
    return lift, var


def estimate(c: Sample, t: Sample, relative: bool = True) -> float:
    """The lift ``(m_t - m_c) / r_c`` or the difference ``m_t - m_c``."""
    return (t.mean - c.mean) / c.raw_mean if relative else t.mean - c.mean


def estimate_variance(c: Sample, t: Sample, relative: bool = True) -> float:
    """Variance of ``estimate`` (delta method for the lift)."""
    if relative:
        return float(lift_and_variance(c.n, c.raw_mean, c.variance, t.n, t.raw_mean, t.variance)[1])
    return t.variance / t.n + c.variance / c.n


def welch_dof(c: Sample, t: Sample) -> float:
    """Welch-Satterthwaite degrees of freedom."""
    a, b = c.variance / c.n, t.variance / t.n
    den = (a * a / (c.n - 1) if c.n > 1 else 0.0) + (b * b / (t.n - 1) if t.n > 1 else 0.0)
    return (a + b) ** 2 / den if den > 0 else math.inf


def check_pair(c: Sample, t: Sample, relative: bool) -> None:
    """Raise ``ValueError`` for impossible inputs, ``NotEnoughData`` for too little data."""
    for name, s in (("control", c), ("treatment", t)):
        if s.n < 0 or not (math.isfinite(s.mean) and math.isfinite(s.variance)):
            raise ValueError(f"{name}: n must be >= 0 and mean, variance finite")
        if s.variance < 0:
            raise ValueError(f"{name}: variance {s.variance} is negative")
        if s.n < 2:
            raise NotEnoughData(f"{name} has {s.n} units; a test needs at least 2 in each")
    if relative and c.raw_mean == 0:
        raise NotEnoughData("the control's mean is 0, so a relative lift is undefined")
    if c.variance == 0 and t.variance == 0:
        raise NotEnoughData("no variance in either variant yet")


@dataclass(frozen=True, slots=True)
class TestResult:
    """One treatment against the control. ``estimate``, ``ci_low`` and ``ci_high`` are
    on the scale asked for (relative lift by default); ``lift`` and ``difference`` are
    always the relative and the absolute effect."""

    method: str  # "welch" or "sequential"
    relative: bool
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    dof: float  # inf for the (normal-theory) sequential test
    alpha: float
    lift: float
    difference: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def welch_test(
    n_c: int,
    mean_c: float,
    var_c: float,
    n_t: int,
    mean_t: float,
    var_t: float,
    alpha: float = 0.05,
    *,
    relative: bool = True,
) -> TestResult:
    """Two-sided Welch t-test of treatment against control from summary statistics.

    Returns the relative lift with its ``1 - alpha`` confidence interval (delta method)
    and the p-value of "no effect". ``relative=False`` tests the absolute difference
    instead (identical to ``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``).
    """
    return welch(Sample.of(n_c, mean_c, var_c), Sample.of(n_t, mean_t, var_t), alpha, relative)


def welch(c: Sample, t: Sample, alpha: float = 0.05, relative: bool = True) -> TestResult:
    """``welch_test`` on two ``Sample`` (which may carry CUPED-adjusted means)."""
    _check_alpha(alpha)
    check_pair(c, t, relative)
    est = estimate(c, t, relative)
    se = math.sqrt(estimate_variance(c, t, relative))
    dof = welch_dof(c, t)
    stat = est / se
    p = float(2 * sps.t.sf(abs(stat), dof))
    half = float(sps.t.ppf(1 - alpha / 2, dof)) * se
    return TestResult(
        "welch", relative, est, se, est - half, est + half, min(1.0, p), stat, dof, alpha,
        estimate(c, t, True) if c.raw_mean else math.nan, t.mean - c.mean,
    )  # fmt: skip


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must be between 0 and 1 (e.g. 0.05)")


def srm_pvalue(observed: Sequence[int], weights: Sequence[float]) -> float:
    """Sample ratio mismatch: the chi-square goodness-of-fit p-value of the units
    ``observed`` in each variant against the split ``weights`` (Fabijan et al. 2019).
    Variants with weight 0 leave the test; any unit in one of them is a mismatch (0.0).
    A p-value below 0.001 means the assignment or the logging is broken."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError(
            f"srm_pvalue: {len(observed)} counts and {len(weights)} weights; "
            "give one of each per variant, at least two"
        )
    if any(o < 0 for o in observed) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("srm_pvalue: counts and weights must be >= 0, and some weight > 0")
    total = sum(observed)
    if total == 0:
        return 1.0
    if any(o > 0 and w == 0 for o, w in zip(observed, weights, strict=True)):
        return 0.0
    live = [(o, w) for o, w in zip(observed, weights, strict=True) if w > 0]
    if len(live) < 2:
        return 1.0
    weight = sum(w for _, w in live)
    chi2 = sum((o - w / weight * total) ** 2 / (w / weight * total) for o, w in live)
    return float(sps.chi2.sf(chi2, len(live) - 1))
