"""Power, minimum detectable effect, and the sample an experiment still needs.

Normal approximations on the same delta-method variance the tests use. For a
relative effect ``d`` on a control with mean ``m`` and per-unit variance ``s^2``
(the treatment's mean is ``m (1 + d)``; for a proportion its variance is
``p_t (1 - p_t)``, otherwise ``s^2`` too), with ``n_c`` and ``n_t`` units:

    se(d)  = sqrt( s_t^2 / (m^2 n_t) + s^2 (1 + d)^2 / (m^2 n_c) )
    power  = Phi(|d| / se - z) + Phi(-|d| / se - z),    z = Phi^-1(1 - alpha/2)

The **minimum detectable effect** is the smallest ``d > 0`` whose power reaches the
target (0.8 by default) at the current sample; the **sample size** is the smallest
total ``N`` (split by the treatment's share) at which the target effect reaches it.

For the sequential engine the interval is wider (it pays for being valid at every
look), so its sample size solves ``half_width(N) + z_power * se(N) <= |d|``: at that
``N`` the sequence excludes 0 with about the target probability. (A confidence
sequence that is checked continuously usually stops earlier; this is the sample by
which it will have decided.)
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.stats import norm

from turnout.experiments.sequential import DEFAULT_TUNING, half_width

__all__ = ["mde", "power", "sample_size", "standard_error"]

MAX_UNITS = 10**10  # beyond this, "not reachable"


def _treatment_variance(mean: float, variance: float, effect: float, binary: bool) -> float:
    if binary:
        p = min(max(mean * (1 + effect), 0.0), 1.0)
        return p * (1 - p)
    return variance


def standard_error(
    effect: float, mean: float, variance: float, n_c: float, n_t: float, binary: bool = False
) -> float:
    """Standard error of the relative lift at this effect and sample."""
    if mean == 0:
        raise ValueError("the control's mean is 0: a relative effect is undefined")
    var_t = _treatment_variance(mean, variance, effect, binary)
    return math.sqrt(var_t / (mean**2 * n_t) + variance * (1 + effect) ** 2 / (mean**2 * n_c))


def power(
    effect: float,
    mean: float,
    variance: float,
    n_c: float,
    n_t: float,
    alpha: float = 0.05,
    binary: bool = False,
) -> float:
    """Probability that a two-sided fixed-horizon test at ``alpha`` detects ``effect``."""
    se = standard_error(effect, mean, variance, n_c, n_t, binary)
    z = float(norm.ppf(1 - alpha / 2))
    k = abs(effect) / se
    return float(norm.cdf(k - z) + norm.cdf(-k - z))


def mde(
    mean: float,
    variance: float,
    n_c: float,
    n_t: float,
    alpha: float = 0.05,
    target: float = 0.8,
    binary: bool = False,
) -> float:
    """The smallest relative effect (> 0) detected with probability ``target``."""
    if n_c < 1 or n_t < 1:
        return math.inf

    def gap(d: float) -> float:
        return power(d, mean, variance, n_c, n_t, alpha, binary) - target

    hi = 1e-6
    while gap(hi) < 0:
        hi *= 2
        if hi > 1e6 or (binary and mean * (1 + hi) >= 1):
            return math.inf
    if hi <= 1e-6:
        return hi
    return float(brentq(gap, hi / 2, hi, xtol=1e-10))


def sample_size(
    effect: float,
    mean: float,
    variance: float,
    alpha: float = 0.05,
    target: float = 0.8,
    share: float = 0.5,
    binary: bool = False,
    sequential: bool = False,
    tuning: float = DEFAULT_TUNING,
) -> int | None:
    """Total units (treatment and control, the treatment getting ``share`` of them
    and the control the rest) at which ``effect`` is detected with probability
    ``target``; None when it is out of reach (no effect, or beyond 10^10 units)."""
    if effect == 0 or not 0 < share < 1 or mean == 0:
        return None
    z_power = float(norm.ppf(target))
    z_alpha = float(norm.ppf(1 - alpha / 2))

    def gap(total: float) -> float:
        n_t, n_c = share * total, (1 - share) * total
        se = standard_error(effect, mean, variance, n_c, n_t, binary)
        width = (
            float(half_width(total, se * se * total, alpha, tuning)) if sequential else z_alpha * se
        )
        return abs(effect) - width - z_power * se

    lo, hi = 4.0, 8.0
    while gap(hi) < 0:
        lo, hi = hi, hi * 2
        if hi > MAX_UNITS:
            return None
    if gap(lo) >= 0:
        return math.ceil(lo)
    return math.ceil(float(brentq(gap, lo, hi, xtol=0.5)))
