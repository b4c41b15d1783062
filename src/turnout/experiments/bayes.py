"""Bayesian read-out: chance to beat control, credible interval, expected loss.

The model is the normal one GrowthBook's engine uses: the likelihood of the effect
``delta`` (relative lift by default) is normal with the delta-method estimate and
variance of ``turnout.experiments.stats``; with a normal prior ``N(m0, v0)`` the
posterior is normal with precision ``1/v + 1/v0`` and mean
``(est/v + m0/v0) / precision``. Without a prior (the default, "improper flat") the
posterior is ``N(est, v)``.

From the posterior ``N(mu, s^2)``:

- chance to beat control: ``P(delta > 0) = Phi(mu / s)`` (for a metric whose goal
  is to decrease, ``P(delta < 0)``);
- the ``1 - alpha`` credible interval: ``mu -/+ s Phi^-1(1 - alpha/2)``;
- **risk** (expected loss, Stucchio 2015): what choosing one side costs on average
  when it is the worse one. Shipping the treatment risks ``E[max(0, -delta)]``,
  keeping the control ``E[max(0, delta)]``, with
  ``E[max(0, X)] = mu Phi(mu/s) + s phi(mu/s)`` for ``X ~ N(mu, s^2)``
  (signs flipped for a metric to decrease). A common rule ships the treatment when
  its chance to win is high and its risk is below a loss you would accept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from turnout.experiments.stats import Sample, check_pair, estimate, estimate_variance

__all__ = ["BayesResult", "bayes", "expected_positive_part"]


@dataclass(frozen=True, slots=True)
class BayesResult:
    relative: bool
    mean: float  # posterior mean of the effect
    sd: float  # posterior standard deviation
    ci_low: float
    ci_high: float
    chance_to_win: float  # probability that the treatment is better (goal-aware)
    risk_treatment: float  # expected loss of shipping the treatment
    risk_control: float  # expected loss of keeping the control
    alpha: float


def expected_positive_part(mu: float, sd: float) -> float:
    """``E[max(0, X)]`` for ``X ~ N(mu, sd^2)``."""
    if sd <= 0:
        return max(0.0, mu)
    z = mu / sd
    return float(mu * norm.cdf(z) + sd * norm.pdf(z))


def bayes(
    c: Sample,
    t: Sample,
    alpha: float = 0.05,
    relative: bool = True,
    decrease: bool = False,
    prior_mean: float = 0.0,
    prior_variance: float | None = None,
) -> BayesResult:
    """Posterior of the effect of treatment over control; ``decrease=True`` when lower
    is better (then "win" means the metric went down)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must be between 0 and 1 (e.g. 0.05)")
    if prior_variance is not None and prior_variance <= 0:
        raise ValueError(f"prior_variance {prior_variance} must be > 0 (or None for no prior)")
    check_pair(c, t, relative)
    est = estimate(c, t, relative)
    var = estimate_variance(c, t, relative)
    if prior_variance is None:
        mu, sd = est, math.sqrt(var)
    else:
        precision = 1 / var + 1 / prior_variance
        mu = (est / var + prior_mean / prior_variance) / precision
        sd = math.sqrt(1 / precision)
    z = float(norm.ppf(1 - alpha / 2))
    up = expected_positive_part(mu, sd)  # E[max(0, delta)]
    down = expected_positive_part(-mu, sd)  # E[max(0, -delta)]
    better = float(norm.sf(0.0, mu, sd))
    if decrease:
        return BayesResult(relative, mu, sd, mu - z * sd, mu + z * sd, 1 - better, up, down, alpha)
    return BayesResult(relative, mu, sd, mu - z * sd, mu + z * sd, better, down, up, alpha)
