"""Mann-Whitney U, the Hodges-Lehmann shift and Kayenta's classification and score.

The statistics (canary ``x``, baseline ``y``, sizes ``m`` and ``n``, ``N = m n``):

- ``U = #{x_i > y_j} + #{x_i = y_j} / 2`` (scipy's ``U1`` for ``x``); two-sided p-value
  from the exact null distribution when there are no ties and ``m + n <= 200``
  (coefficients of the Gaussian binomial ``[m+n choose m]_q``), otherwise the normal
  approximation with tie and continuity corrections (as ``scipy.stats.mannwhitneyu``).
- Hodges-Lehmann shift: the median of the ``N`` differences ``x_i - y_j``.
- Its confidence interval inverts the test (Lehmann 1975, Hollander & Wolfe ch. 4):
  ``[D_(k), D_(N+1-k)]`` over the sorted differences, where ``k`` is the smallest ``j``
  with ``2 P(U <= j) > 1 - confidence`` (exact law, or the normal one with continuity
  correction). When even ``j = 0`` is not rare enough the interval is unbounded:
  too few samples for that confidence.

Classification follows Kayenta's NetflixACAJudge (``MannWhitneyClassifier``),
with ``direction = increase`` since every turnout metric is "lower is better":
``high`` when the interval's lower end exceeds ``tolerance * |HL|`` and the mean
ratio canary/baseline is at least 1 (Kayenta's default effect-size gate), else
``pass``; identical samples pass; a side without values is ``nodata``. Kayenta adds
a little Gaussian noise when both sides are constant; the order statistics need
none, so the judge stays deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri
from scipy.stats import norm, rankdata

from turnout.core.analysis.measure import Interval, intervals, metric_value, total
from turnout.core.analysis.model import Judgement, Verdict, Window
from turnout.core.config import AnalysisConfig

__all__ = [
    "Classification",
    "Label",
    "MannWhitney",
    "Score",
    "classify",
    "critical_rank",
    "hodges_lehmann",
    "judge_mann_whitney",
    "mann_whitney",
    "min_samples",
    "null_cdf",
    "score",
]

EXACT_MAX = 200  # m + n up to which the exact null law is used (no ties)
NODATA_SHARE = 0.5  # Kayenta: this share of metrics without data or more scores 0


@dataclass(frozen=True, slots=True)
class MannWhitney:
    m: int  # canary sample size
    n: int  # baseline sample size
    u: float  # U of the canary sample
    p_value: float  # two-sided
    method: str  # "exact" or "normal"
    estimate: float  # Hodges-Lehmann shift, canary - baseline
    lower: float  # confidence interval for the shift (may be -inf)
    upper: float  # (may be +inf)
    confidence: float


@lru_cache(maxsize=256)
def _null_cdf(m: int, n: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0..mn under H0 without ties: the coefficients of
    prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), normalised."""
    size = m * n + 1
    poly = np.zeros(size)
    poly[0] = 1.0
    for i in range(1, m + 1):
        shifted = np.zeros(size)  # multiply by (1 - q^(n+i))
        shifted[n + i :] = poly[: size - n - i]
        poly = poly - shifted
        for r in range(i):  # divide by (1 - q^i): a running sum with stride i
            poly[r::i] = np.cumsum(poly[r::i])
    cdf = np.cumsum(poly) / poly.sum()
    return tuple(float(c) for c in cdf)


def _u_statistic(x: NDArray[Any], y: NDArray[Any]) -> tuple[float, NDArray[Any]]:
    ranks = rankdata(np.concatenate([x, y]))
    m = len(x)
    return float(ranks[:m].sum() - m * (m + 1) / 2), ranks


def _p_normal(u: float, m: int, n: int, ranks: NDArray[Any]) -> float:
    total = m + n
    _, ties = np.unique(ranks, return_counts=True)
    tie_term = float((ties**3 - ties).sum()) / (total * (total - 1)) if total > 1 else 0.0
    sigma = math.sqrt(m * n / 12 * ((total + 1) - tie_term))
    if sigma == 0:
        return 1.0
    z = (max(u, m * n - u) - m * n / 2 - 0.5) / sigma
    return float(min(1.0, max(0.0, 2 * norm.sf(z))))


def _p_exact(u: float, m: int, n: int) -> float:
    cdf = _null_cdf(m, n)
    low = min(u, m * n - u)  # the law is symmetric about mn/2
    return min(1.0, 2 * cdf[round(low)])


def null_cdf(m: int, n: int, u: int) -> float:
    """P(U <= u) under H0 without ties: exact up to ``m + n = EXACT_MAX``, else normal
    with continuity correction."""
    if u < 0:
        return 0.0
    if m + n <= EXACT_MAX:
        return _null_cdf(m, n)[min(u, m * n)]
    sigma = math.sqrt(m * n * (m + n + 1) / 12)
    return float(norm.cdf((u + 0.5 - m * n / 2) / sigma))


def critical_rank(m: int, n: int, confidence: float) -> int:
    """``k`` such that ``[D_(k), D_(mn+1-k)]`` is the interval at ``confidence``: the
    smallest ``j`` with ``2 P(U <= j) > 1 - confidence`` (0: unbounded)."""
    alpha = 1 - confidence
    if m + n <= EXACT_MAX:
        cdf = _null_cdf(m, n)
        return next(j for j, c in enumerate(cdf) if 2 * c > alpha)
    sigma = math.sqrt(m * n * (m + n + 1) / 12)
    z = float(ndtri(1 - alpha / 2))
    return max(0, math.floor(m * n / 2 - 0.5 - z * sigma) + 1)


def hodges_lehmann(x: Sequence[float], y: Sequence[float]) -> float:
    """Median of all differences ``x_i - y_j``."""
    return float(np.median(np.subtract.outer(np.asarray(x, float), np.asarray(y, float))))


def mann_whitney(x: Sequence[float], y: Sequence[float], confidence: float) -> MannWhitney:
    """U test of canary ``x`` against baseline ``y`` with the HL shift and its interval."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    m, n = len(xs), len(ys)
    if m == 0 or n == 0:
        raise ValueError("both samples need at least one value")
    u, ranks = _u_statistic(xs, ys)
    exact = m + n <= EXACT_MAX and len(np.unique(ranks)) == m + n
    p = _p_exact(u, m, n) if exact else _p_normal(u, m, n, ranks)
    diffs = np.sort(np.subtract.outer(xs, ys).ravel())
    k = critical_rank(m, n, confidence)
    lower = float(diffs[k - 1]) if k >= 1 else -math.inf
    upper = float(diffs[m * n - k]) if k >= 1 else math.inf
    return MannWhitney(
        m, n, u, p, "exact" if exact else "normal", float(np.median(diffs)), lower, upper,
        confidence,
    )  # fmt: skip


def min_samples(confidence: float) -> int:
    """Values per side needed before the interval can be bounded at ``confidence``."""
    for size in range(1, 64):
        if 2 / math.comb(2 * size, size) <= 1 - confidence:
            return size
    return 64


class Label(StrEnum):
    PASS = "pass"
    HIGH = "high"
    NODATA = "nodata"


@dataclass(frozen=True, slots=True)
class Classification:
    metric: str
    label: Label
    critical: bool
    reason: str  # one line
    canary: tuple[float, ...]
    baseline: tuple[float, ...]
    test: MannWhitney | None = None
    bound: float | None = None  # tolerance * |HL|: the lower end must exceed it for "high"
    mean_ratio: float | None = None


def _mean_ratio(x: Sequence[float], y: Sequence[float]) -> float:
    base = float(np.mean(y))
    return 1.0 if base == 0 else float(np.mean(x)) / base


def classify(
    metric: str,
    canary: Sequence[float],
    baseline: Sequence[float],
    confidence: float,
    tolerance: float,
    critical: bool = False,
) -> Classification:
    """Kayenta's per-metric classification (direction "increase")."""
    c, b = tuple(canary), tuple(baseline)
    if not c or not b:
        side = "canary" if not c else "baseline"
        return Classification(metric, Label.NODATA, critical, f"no {side} data", c, b)
    if sorted(c) == sorted(b) or len(set(c) | set(b)) == 1:
        same = "identical samples"
        return Classification(metric, Label.PASS, critical, same, c, b, None, 0.0, 1.0)
    test = mann_whitney(c, b, confidence)
    bound = tolerance * abs(test.estimate)
    ratio = _mean_ratio(c, b)
    shift = f"shift {test.estimate:.4g}, interval [{test.lower:.4g}, {test.upper:.4g}]"
    if test.lower > bound and ratio >= 1.0:
        why = f"{shift} above +{bound:.4g}"
        return Classification(metric, Label.HIGH, critical, why, c, b, test, bound, ratio)
    why = f"{shift} within tolerance"
    return Classification(metric, Label.PASS, critical, why, c, b, test, bound, ratio)


@dataclass(frozen=True, slots=True)
class Score:
    value: float  # 0..100
    reason: str  # "scored", "critical_metric_failed", "critical_metric_no_data", "too_many_nodata"
    detail: str


def score(results: Sequence[Classification]) -> Score:
    """Kayenta's WeightedSumScorer with one group: 100 * pass / (pass + high), 0 when a
    critical metric is not ``pass`` or when half of the metrics or more have no data."""
    critical = [r for r in results if r.critical and r.label is not Label.PASS]
    high = [r for r in critical if r.label is Label.HIGH]
    if high:
        return Score(0.0, "critical_metric_failed", f"{high[0].metric} is high: {high[0].reason}")
    if critical:
        return Score(0.0, "critical_metric_no_data", f"{critical[0].metric}: {critical[0].reason}")
    nodata = [r for r in results if r.label is Label.NODATA]
    if results and len(nodata) / len(results) >= NODATA_SHARE:
        names = ", ".join(r.metric for r in nodata)
        return Score(0.0, "too_many_nodata", f"no data for {names}")
    judged = [r for r in results if r.label is not Label.NODATA]
    passed = sum(r.label is Label.PASS for r in judged)
    value = round(100.0 * passed / len(judged), 2) if judged else 100.0
    return Score(value, "scored", f"{passed} of {len(judged)} metrics pass")


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def describe(c: Classification) -> dict[str, object]:
    """A classification as plain JSON-able values (infinite bounds become None)."""
    out: dict[str, object] = {
        "label": c.label.value,
        "critical": c.critical,
        "reason": c.reason,
        "canary_values": len(c.canary),
        "baseline_values": len(c.baseline),
        "canary_median": float(np.median(c.canary)) if c.canary else None,
        "baseline_median": float(np.median(c.baseline)) if c.baseline else None,
        "mean_ratio": c.mean_ratio,
        "bound": c.bound,
    }
    if c.test is not None:
        t = c.test
        out.update(
            u=t.u, p_value=t.p_value, method=t.method, shift=t.estimate,
            interval=[_finite(t.lower), _finite(t.upper)], confidence=t.confidence,
        )  # fmt: skip
    return out


def describe_all(results: Sequence[Classification]) -> Mapping[str, dict[str, object]]:
    return {c.metric: describe(c) for c in results}


# --- the judge ----------------------------------------------------------------------------


def _metrics(cfg: AnalysisConfig) -> list[str]:
    """The configured metrics, plus any critical one not listed (it is analysed too)."""
    names: list[str] = list(cfg.metrics)
    return names + [m for m in cfg.critical if m not in names]


def _planned(cfg: AnalysisConfig) -> int:
    return cfg.count if cfg.count is not None else max(1, math.floor(cfg.duration / cfg.interval))


def _values(metric: str, done: Sequence[Interval]) -> tuple[list[float], list[float]]:
    canary = [v for iv in done if (v := metric_value(metric, iv.canary)) is not None]
    baseline = [v for iv in done if (v := metric_value(metric, iv.baseline)) is not None]
    return canary, baseline


def judge_mann_whitney(cfg: AnalysisConfig, window: Window) -> Judgement:
    """Kayenta-style: per-interval values of each metric, canary against baseline, the
    growing window re-scored at every interval; ``count`` intervals (or ``duration``)."""
    names = _metrics(cfg)
    planned = _planned(cfg)
    done = intervals(window, cfg.interval)[:planned]
    canary_total = total(window.canary)
    need = min_samples(cfg.confidence)
    base: dict[str, Any] = {
        "judge": "mann-whitney",
        "intervals": len(done),
        "planned_intervals": planned,
        "min_values": need,
        "canary_requests": canary_total.requests,
        "pass_score": cfg.pass_score,
        "marginal_score": cfg.marginal_score,
        "tolerance": cfg.tolerance,
        "confidence": cfg.confidence,
        "elapsed": window.elapsed,
    }
    if canary_total.requests < cfg.min_requests:
        return Judgement(
            Verdict.NOT_ENOUGH_DATA, "too_few_requests",
            f"{canary_total.requests} canary requests so far, no verdict before {cfg.min_requests}",
            base, cfg.min_requests - canary_total.requests,
        )  # fmt: skip
    final = len(done) >= planned
    results: list[Classification] = []
    short = 0  # most values still missing on a side, over the metrics still filling up
    for name in names:
        c, b = _values(name, done)
        critical = name in cfg.critical
        if c and b and min(len(c), len(b)) < need and not final:
            short = max(short, need - min(len(c), len(b)))
            continue
        if min(len(c), len(b)) < need:  # also the final interval with too few values
            results.append(
                Classification(name, Label.NODATA, critical, f"{len(c)} canary / {len(b)} "
                               f"baseline values, {need} needed", tuple(c), tuple(b))
            )  # fmt: skip
            continue
        results.append(classify(name, c, b, cfg.confidence, cfg.tolerance, critical))
    if short:
        per_interval = canary_total.requests / max(1, len(done))
        return Judgement(
            Verdict.NOT_ENOUGH_DATA, "collecting",
            f"{len(done)} of {planned} intervals; {short} more per side before scoring",
            {**base, "metrics": describe_all(results)}, max(1, math.ceil(short * per_interval)),
        )  # fmt: skip
    s = score(results)
    payload = {**base, "metrics": describe_all(results), "score": s.value, "score_reason": s.reason}
    where = f"score {s.value:g} after {len(done)} of {planned} intervals"
    if s.reason in ("too_many_nodata", "critical_metric_no_data"):
        return Judgement(Verdict.ERROR, "no_data", f"{where}: {s.detail}", payload)
    if s.value <= cfg.marginal_score:
        reason = s.reason if s.reason == "critical_metric_failed" else "score_below_marginal"
        return Judgement(
            Verdict.FAIL, reason, f"{where} (marginal {cfg.marginal_score:g}): {s.detail}", payload
        )
    if not final:
        return Judgement(Verdict.RUNNING, "scoring", f"{where}: {s.detail}", payload)
    if s.value >= cfg.pass_score:
        return Judgement(Verdict.PASS, "score_passed", f"{where}: {s.detail}", payload)
    return Judgement(
        Verdict.INCONCLUSIVE, "score_marginal",
        f"{where}: between marginal {cfg.marginal_score:g} and pass {cfg.pass_score:g}", payload,
    )  # fmt: skip
