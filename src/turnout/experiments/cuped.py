"""CUPED: variance reduction with a pre-period covariate (Deng, Xu, Kohavi, Walker 2013).

For each unit, ``y`` is the metric after its first exposure and ``x`` the same
metric over a window before it (the pre-period). Randomisation makes ``x``
independent of the variant, so ``y - theta (x - E x)`` has the same expected
difference between variants and a smaller variance whenever ``x`` and ``y`` are
correlated; the best ``theta`` is ``cov(x, y) / var(x)``, here estimated on the
pooled units of control and treatment, as GrowthBook does. Per variant:

    adjusted mean      = mean(y) - theta * mean(x)
    adjusted variance  = var(y) + theta^2 var(x) - 2 theta cov(x, y)

(the common ``theta E x`` term cancels in a difference). The relative lift keeps the
*unadjusted* control mean as its denominator. When the pooled covariate or metric
has no variance, ``theta`` is 0 and the plain samples are used. A unit without
pre-period data has ``x = 0``, which is correct for counts and sums.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.experiments.stats import Moments, Sample

__all__ = ["Paired", "adjust", "theta"]


@dataclass(frozen=True, slots=True)
class Paired:
    """One variant's sums of the metric (``post``), its covariate (``pre``) and their
    products."""

    post: Moments
    pre: Moments
    sum_products: float

    @property
    def n(self) -> int:
        return self.post.n

    def covariance(self) -> float:
        n = self.n
        if n <= 1:
            return 0.0
        return (self.sum_products - self.post.sum * self.pre.sum / n) / (n - 1)


def _pooled(a: Paired, b: Paired) -> Paired:
    n = a.n + b.n

    def join(x: Moments, y: Moments) -> Moments:
        return Moments(n, x.sum + y.sum, x.sum_sq + y.sum_sq, x.binary)

    return Paired(join(a.post, b.post), join(a.pre, b.pre), a.sum_products + b.sum_products)


def theta(control: Paired, treatment: Paired) -> float:
    """``cov(x, y) / var(x)`` on the pooled units; 0 when either has no variance."""
    pooled = _pooled(control, treatment)
    var_pre, var_post = pooled.pre.variance, pooled.post.variance
    if var_pre <= 0 or var_post <= 0:
        return 0.0
    return pooled.covariance() / var_pre


def adjusted(p: Paired, th: float) -> Sample:
    mean = p.post.mean - th * p.pre.mean
    var = p.post.variance + th * th * p.pre.variance - 2 * th * p.covariance()
    return Sample(p.n, mean, max(0.0, var), p.post.mean)


def adjust(control: Paired, treatment: Paired) -> tuple[Sample, Sample, float]:
    """The CUPED-adjusted samples of both variants and the ``theta`` used (0: none)."""
    th = theta(control, treatment)
    if th == 0.0:
        return control.post.sample(), treatment.post.sample(), 0.0
    return adjusted(control, th), adjusted(treatment, th), th
