"""Mann-Whitney U, Hodges-Lehmann and its interval against scipy and first principles;
Kayenta's classification and score; the mann-whitney judge."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from turnout.core.analysis.judge import judge
from turnout.core.analysis.mannwhitney import (
    Classification,
    Label,
    classify,
    critical_rank,
    mann_whitney,
    min_samples,
    null_cdf,
    score,
)
from turnout.core.analysis.model import Verdict
from turnout.core.config import AnalysisConfig

from .windows import BOUNDS, from_intervals

# Fixed samples (no ties within or across): canary latencies a little higher.
X = [12.1, 14.3, 9.8, 15.2, 13.7, 11.4, 16.9, 13.1]
Y = [10.2, 9.1, 11.8, 12.6, 8.7, 10.9, 9.5, 12.2, 11.1, 10.4]
# A larger pair with many ties (error rates of small intervals)
RNG = np.random.default_rng(7)
XT = list(RNG.binomial(50, 0.03, 40) / 50)
YT = list(RNG.binomial(50, 0.01, 45) / 50)


def brute_force_hl(x, y):
    diffs = sorted(a - b for a, b in itertools.product(x, y))
    n = len(diffs)
    return diffs[n // 2] if n % 2 else (diffs[n // 2 - 1] + diffs[n // 2]) / 2


def test_u_and_exact_p_value_match_scipy():
    r = mann_whitney(X, Y, 0.95)
    ref = mannwhitneyu(X, Y, alternative="two-sided", method="exact")
    assert r.method == "exact"
    assert r.u == ref.statistic
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_u_and_normal_p_value_with_ties_match_scipy():
    r = mann_whitney(XT, YT, 0.95)
    ref = mannwhitneyu(XT, YT, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert r.method == "normal"
    assert r.u == ref.statistic
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_the_exact_null_law_is_the_count_of_rank_arrangements():
    m, n = 4, 5
    counts = [0] * (m * n + 1)
    for chosen in itertools.combinations(range(m + n), m):  # the canary's ranks
        u = sum(chosen) - m * (m - 1) // 2  # ranks from 0: U = sum - m(m-1)/2
        counts[u] += 1
    total = math.comb(m + n, m)
    for u in range(m * n + 1):
        assert null_cdf(m, n, u) == pytest.approx(sum(counts[: u + 1]) / total, rel=1e-12)


def test_hodges_lehmann_is_the_median_of_pairwise_differences():
    assert mann_whitney(X, Y, 0.95).estimate == pytest.approx(brute_force_hl(X, Y))
    assert mann_whitney(XT, YT, 0.95).estimate == pytest.approx(brute_force_hl(XT, YT))


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.98])
def test_the_interval_is_the_set_of_shifts_scipy_does_not_reject_exact(confidence):
    """Test inversion, independently: between consecutive pairwise differences the shifted
    samples have no ties, so scipy's exact test decides each shift."""
    r = mann_whitney(X, Y, confidence)
    alpha = 1 - confidence
    diffs = sorted({a - b for a, b in itertools.product(X, Y)})
    mids = [(a + b) / 2 for a, b in itertools.pairwise(diffs)]
    inside = [d for d in mids if r.lower < d < r.upper]
    outside = [d for d in mids if d < r.lower or d > r.upper]
    assert inside and outside
    p = lambda d: mannwhitneyu([v - d for v in X], Y, method="exact").pvalue  # noqa: E731
    assert all(p(d) > alpha for d in inside)
    assert all(p(d) <= alpha for d in outside)
    # and the ends are pairwise differences, the last accepted ones
    assert r.lower in diffs and r.upper in diffs


def test_the_interval_inverts_scipys_normal_test_for_large_samples():
    rng = np.random.default_rng(3)
    x, y = list(rng.normal(0.4, 1, 120)), list(rng.normal(0, 1, 110))
    r = mann_whitney(x, y, 0.98)
    assert r.method == "normal"
    diffs = np.sort(np.subtract.outer(np.array(x), np.array(y)).ravel())
    k = critical_rank(120, 110, 0.98)
    p = lambda d: mannwhitneyu(np.array(x) - d, y, method="asymptotic").pvalue  # noqa: E731
    # just inside each end the shift is accepted, just outside rejected
    assert p((diffs[k - 1] + diffs[k]) / 2) > 0.02 >= p((diffs[k - 2] + diffs[k - 1]) / 2)
    n = len(diffs)
    assert (
        p((diffs[n - k - 1] + diffs[n - k]) / 2) > 0.02 >= p((diffs[n - k] + diffs[n - k + 1]) / 2)
    )
    assert (r.lower, r.upper) == (diffs[k - 1], diffs[n - k])


def test_too_few_values_give_an_unbounded_interval():
    assert min_samples(0.98) == 5  # 2 / C(10, 5) <= 0.02 < 2 / C(8, 4)
    r = mann_whitney([1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4], 0.98)
    assert r.lower == -math.inf and r.upper == math.inf
    x, y = [1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.2, 0.3, 0.4, 0.5]
    r = mann_whitney(x, y, 0.98)
    # k = 2: 2 P(U <= 1) = 4/252 <= 0.02 < 2 P(U <= 2) = 8/252
    assert critical_rank(5, 5, 0.98) == 2
    assert 2 * null_cdf(5, 5, 1) <= 0.02 < 2 * null_cdf(5, 5, 2)
    diffs = sorted(a - b for a in x for b in y)
    assert (r.lower, r.upper) == (diffs[1], diffs[-2])


def test_classification_high_when_the_interval_clears_the_tolerance_band():
    c = classify("latency_p99", X, Y, 0.95, 0.25)
    assert c.label is Label.HIGH and c.test is not None
    assert c.test.lower > 0.25 * abs(c.test.estimate) == c.bound


def test_classification_passes_within_tolerance_and_on_lower_canaries():
    assert classify("latency_p99", Y, X, 0.95, 0.25).label is Label.PASS  # canary lower
    # a real but small shift: the band is a quarter of the estimate; a wide interval passes
    assert classify("latency_p99", X, Y, 0.9999, 0.25).label is Label.PASS


def test_identical_or_missing_samples():
    assert classify("error_rate", [0.0] * 6, [0.0] * 7, 0.98, 0.25).label is Label.PASS
    assert classify("error_rate", Y, list(reversed(Y)), 0.98, 0.25).label is Label.PASS
    assert classify("error_rate", [], Y, 0.98, 0.25).label is Label.NODATA


def test_the_mean_ratio_gate():
    # HL shift positive (most pairs higher) but the canary's mean is lower: not high
    canary = [1.1] * 9 + [0.0]
    baseline = [1.0] * 9 + [5.0]
    c = classify("latency_mean", canary, baseline, 0.9, 0.25)
    assert c.test is not None and c.test.lower > c.bound
    assert c.mean_ratio is not None and c.mean_ratio < 1 and c.label is Label.PASS


def _c(metric, label, critical=False):
    values = (0.1,) if label is not Label.NODATA else ()
    return Classification(metric, label, critical, "", values, values)


def test_score_is_the_share_of_metrics_that_pass():
    s = score([_c("a", Label.PASS), _c("b", Label.HIGH), _c("c", Label.PASS), _c("d", Label.PASS)])
    assert (s.value, s.reason) == (75.0, "scored")


def test_a_critical_metric_that_does_not_pass_scores_zero():
    s = score([_c("a", Label.PASS), _c("b", Label.HIGH, critical=True), _c("c", Label.PASS)])
    assert (s.value, s.reason) == (0.0, "critical_metric_failed")
    s = score([_c("a", Label.PASS), _c("b", Label.NODATA, critical=True), _c("c", Label.PASS)])
    assert (s.value, s.reason) == (0.0, "critical_metric_no_data")


def test_half_the_metrics_without_data_scores_zero_and_nodata_leaves_the_denominator():
    assert score([_c("a", Label.PASS), _c("b", Label.NODATA)]).reason == "too_many_nodata"
    s = score([_c("a", Label.PASS), _c("b", Label.NODATA), _c("c", Label.HIGH)])
    assert (s.value, s.reason) == (50.0, "scored")


# --- the judge --------------------------------------------------------------------------


def _hist(fast: int, slow: int):
    """``fast`` responses at 5-10 ms, ``slow`` at 250-500 ms (per bucket, BOUNDS)."""
    return [0, fast, 0, 0, 0, 0, slow, 0, 0]


def _rows(n, canary, baseline):
    return [(canary(k), baseline(k)) for k in range(n)]


def test_a_slow_canary_fails_early_below_the_marginal_score():
    cfg = AnalysisConfig(judge="mann-whitney", metrics=["error_rate", "latency_p99"], count=12)
    rows = _rows(
        12,
        lambda k: (50, 0, _hist(40, 10)),  # p99 in the 250-500 ms bucket
        lambda k: (500, 1 if k % 2 else 0, _hist(500, 0)),
    )
    verdicts = [judge(cfg, from_intervals(rows[:k], bounds=BOUNDS)) for k in range(1, 13)]
    assert [v.verdict for v in verdicts[:4]] == [Verdict.NOT_ENOUGH_DATA] * 4
    assert all(v.reason == "collecting" and v.needed for v in verdicts[:4])
    j = verdicts[4]  # five values per side: scored
    assert j.verdict is Verdict.FAIL and j.reason == "score_below_marginal"
    assert j.measurements["score"] == 50.0
    assert j.measurements["metrics"]["latency_p99"]["label"] == "high"
    assert j.measurements["metrics"]["error_rate"]["label"] == "pass"


def test_a_canary_with_more_errors_fails_on_the_critical_metric():
    cfg = AnalysisConfig(judge="mann-whitney", metrics=["error_rate"], count=6)
    rows = _rows(6, lambda k: (50, 3 + k % 2), lambda k: (500, k % 2))
    j = judge(cfg, from_intervals(rows))
    assert j.verdict is Verdict.FAIL and j.reason == "critical_metric_failed"
    assert j.measurements["score"] == 0.0


def test_a_good_canary_passes_at_the_last_interval_and_not_before():
    cfg = AnalysisConfig(judge="mann-whitney", count=8)
    rows = _rows(8, lambda k: (50, k % 3 == 0, _hist(50, 0)), lambda k: (500, k % 2, _hist(500, 0)))
    rows = [((c[0], int(c[1]), c[2]), b) for c, b in rows]
    seven = judge(cfg, from_intervals(rows[:7], bounds=BOUNDS))
    assert seven.verdict is Verdict.RUNNING and seven.reason == "scoring"
    eight = judge(cfg, from_intervals(rows, bounds=BOUNDS))
    assert eight.verdict is Verdict.PASS and eight.reason == "score_passed"
    assert eight.measurements["score"] == 100.0
    # later data does not change a finished analysis
    more = rows + _rows(3, lambda k: (50, 40, _hist(0, 50)), lambda k: (500, 0, _hist(500, 0)))
    assert judge(cfg, from_intervals(more, bounds=BOUNDS)).verdict is Verdict.PASS


def test_a_score_between_marginal_and_pass_is_inconclusive_at_the_end():
    cfg = AnalysisConfig(
        judge="mann-whitney", count=6, critical=[], pass_score=95, marginal_score=50,
        metrics=["error_rate", "latency_p50", "latency_p99"],
    )  # fmt: skip
    same = [0, 97, 0, 0, 0, 0, 3, 0, 0]  # the same latency proportions on both sides
    rows = _rows(
        6, lambda k: (100, 5 + k % 2, same), lambda k: (1000, k % 2, [10 * v for v in same])
    )
    j = judge(cfg, from_intervals(rows, bounds=BOUNDS))
    labels = {m: v["label"] for m, v in j.measurements["metrics"].items()}
    assert labels == {"error_rate": "high", "latency_p50": "pass", "latency_p99": "pass"}
    assert j.verdict is Verdict.INCONCLUSIVE and j.reason == "score_marginal"
    assert j.measurements["score"] == pytest.approx(66.67)
    five = judge(cfg, from_intervals(rows[:5], bounds=BOUNDS))
    assert five.verdict is Verdict.RUNNING  # above marginal before the last interval


def test_no_latency_histogram_is_no_data():
    cfg = AnalysisConfig(judge="mann-whitney", count=6)  # error_rate (critical) + latency_p99
    rows = _rows(6, lambda k: (50, 0), lambda k: (500, 0))
    j = judge(cfg, from_intervals(rows))  # sources without histograms
    assert j.verdict is Verdict.ERROR and j.reason == "no_data"
    assert j.measurements["metrics"]["latency_p99"]["label"] == "nodata"
    json.dumps(j.measurements, allow_nan=False)


def test_no_verdict_before_min_requests():
    cfg = AnalysisConfig(judge="mann-whitney", min_requests=100, metrics=["error_rate"])
    j = judge(cfg, from_intervals(_rows(6, lambda k: (10, 5), lambda k: (500, 0))))
    assert j.verdict is Verdict.NOT_ENOUGH_DATA and j.reason == "too_few_requests"
    assert j.needed == 40
