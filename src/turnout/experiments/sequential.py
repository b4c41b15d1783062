"""Always-valid confidence sequences: look at the results whenever you like.

A fixed-horizon test is valid once, at the sample size planned in advance; checking
it every day and stopping at the first p < 0.05 makes false positives several times
more likely (bench/experiments.py measures it). A **confidence sequence** is a
sequence of intervals that contains the true effect at *every* sample size at once
with probability ``1 - alpha``, so it may be checked continuously and acted on
whenever it excludes 0.

This is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy
and Ramdas ("Time-uniform central limit theory and asymptotic confidence sequences",
Annals of Statistics 2024, arXiv:2103.06476, eq. 9), a normal-mixture boundary
(Robbins 1970; Howard et al. 2021) applied to the delta-method estimate of
``turnout.experiments.stats``. With ``N = n_c + n_t`` units, ``V = N * Var(estimate)``
and a mixture parameter ``rho``, the half-width at ``N`` is

    sqrt(V) * sqrt( 2 (N rho^2 + 1) / (N^2 rho^2) * log( sqrt(N rho^2 + 1) / alpha ) )

``rho`` is chosen so the sequence is tightest near ``N = tuning`` units
(their eq. 161): ``rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / tuning``. The tuning
changes where the sequence is narrowest, never its guarantee. The matching
always-valid p-value is ``min(1, 1 / E)`` with the e-value
``E = exp(rho^2 N^2 est^2 / V / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1)``; it is below
``alpha`` exactly when the interval excludes 0. GrowthBook's sequential engine uses
the same construction (default tuning 5,000), so results agree with gbstats:
tests/experiments/test_stats_reference.py compares them with vectors produced by
gbstats 0.8.0 (tests/experiments/data/gbstats_vectors.json, regenerable by
tests/experiments/data/make_gbstats_vectors.py).

The guarantee is asymptotic (it rests on the central limit theorem, like the t-test)
and assumes independent units; bench/experiments.py checks it on A/A simulations
with a look after every 100 units.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from turnout.experiments.stats import (
    Sample,
    TestResult,
    check_pair,
    estimate,
    estimate_variance,
)

__all__ = ["DEFAULT_TUNING", "half_width", "log_evalue", "rho_squared", "sequential"]

DEFAULT_TUNING = 5000.0  # units at which the sequence is tightest (GrowthBook's default)


def rho_squared(alpha: float, tuning: float = DEFAULT_TUNING) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must be between 0 and 1 (e.g. 0.05)")
    if tuning <= 0:
        raise ValueError(f"tuning {tuning} must be > 0 (units where the interval is tightest)")
    la = -2 * math.log(alpha)
    return (la + math.log(la + 1)) / tuning


def half_width(
    n_total: Any, variance_per_unit: Any, alpha: float, tuning: float = DEFAULT_TUNING
) -> Any:
    """Half-width of the sequence after ``n_total`` units when ``N * Var(estimate)`` is
    ``variance_per_unit`` (floats or numpy arrays)."""
    r2 = rho_squared(alpha, tuning)
    a = n_total * r2 + 1
    return np.sqrt(variance_per_unit) * np.sqrt(
        2 * a * np.log(np.sqrt(a) / alpha) / (n_total**2 * r2)
    )


def log_evalue(
    n_total: Any, est: Any, variance: Any, alpha: float, tuning: float = DEFAULT_TUNING
) -> Any:
    """log E of "no effect" for an estimate with variance ``variance`` after ``n_total``
    units (floats or numpy arrays); the always-valid p-value is ``min(1, exp(-log E))``."""
    r2 = rho_squared(alpha, tuning)
    a = n_total * r2 + 1
    return r2 * n_total * est * est / variance / (2 * a) - 0.5 * np.log(a)


def sequential(
    c: Sample,
    t: Sample,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
    relative: bool = True,
) -> TestResult:
    """The confidence sequence for treatment against control, at the data seen so far."""
    check_pair(c, t, relative)
    est = estimate(c, t, relative)
    var = estimate_variance(c, t, relative)
    n = c.n + t.n
    half = float(half_width(n, var * n, alpha, tuning))
    log_e = float(log_evalue(n, est, var, alpha, tuning))
    p = 1.0 if log_e <= 0 else math.exp(-log_e)
    se = math.sqrt(var)
    lift = estimate(c, t, True) if c.raw_mean else math.nan
    return TestResult(
        "sequential", relative, est, se, est - half, est + half, min(1.0, p), est / se,
        math.inf, alpha, lift, t.mean - c.mean,
    )  # fmt: skip
