"""The sequential judge: exact martingales, calibration under continuous monitoring at low
counts, power, not-enough-data with ``needed``, and early PASS."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import binom

from turnout.core.analysis.judge import judge
from turnout.core.analysis.model import Counts, Verdict, Window
from turnout.core.analysis.sequential import (
    evidence,
    fail_candidates,
    interval,
    log_evidence,
    log_martingale,
    needed,
    prior_b,
)
from turnout.core.config import AnalysisConfig

from .windows import head, simulate

CFG = AnalysisConfig()  # sequential at its defaults: alpha 1%, tolerance 1 point


def window(n1, x1, n0, x0):
    return Window((0.0, 1.0), (Counts(0, 0), Counts(n1, x1)), (Counts(0, 0), Counts(n0, x0)))


@pytest.mark.parametrize(("n", "p"), [(1, 0.001), (30, 0.001), (200, 0.011), (1000, 0.05)])
def test_the_mixture_is_a_martingale_with_mean_one_under_its_null(n, p):
    """E[M_n(p)] = sum_x Binom(x; n, p) * M_n(p) = 1 exactly (the beta-binomial sums to 1):
    the property Ville's inequality needs, checked without sampling."""
    x = np.arange(n + 1)
    log_m = log_martingale(
        np.full(n + 1, n, float), x.astype(float), np.full(n + 1, p), prior_b(0.02)
    )
    assert float(logsumexp(binom.logpmf(x, n, p) + log_m)) == pytest.approx(0.0, abs=1e-9)


def test_the_line_minimum_is_the_minimum_over_the_null():
    """Brute force over a grid of the null half-plane: no point has less evidence than the
    line minimum (the convexity argument, checked)."""
    n1, x1, n0, x0 = 300.0, 12.0, 5700.0, 6.0
    b = prior_b(CFG.mixture_rate)
    value, p0_star = log_evidence(n1, x1, n0, x0, 0.01, CFG.mixture_rate)
    p0 = np.linspace(1e-6, 0.05, 400)[:, None]
    p1 = np.linspace(1e-6, 0.06, 400)[None, :]
    h0 = log_martingale(np.array(n0), np.array(x0), p0, b)
    grid = log_martingale(np.array(n1), np.array(x1), p1, b) + np.logaddexp(
        math.log(0.5), math.log(0.5) + h0
    )
    in_null = p1 <= p0 + 0.01
    assert float(grid[np.broadcast_to(in_null, grid.shape)].min()) >= float(value) - 1e-9
    assert 0 < float(p0_star) < 0.01


def first_fail(n1, x1, n0, x0, cfg):
    """First second at which the judge would FAIL, per run (the same math as judge())."""
    fired = np.zeros(n1.shape, bool)
    cand = (n1 >= cfg.min_requests) & fail_candidates(
        n1, x1, n0, x0, cfg.max_error_rate_increase, cfg.mixture_rate, cfg.alpha
    )
    rows, cols = np.nonzero(cand)
    if rows.size:
        value, _ = log_evidence(
            n1[rows, cols], x1[rows, cols], n0[rows, cols], x0[rows, cols],
            cfg.max_error_rate_increase, cfg.mixture_rate,
        )  # fmt: skip
        fired[rows, cols] = value >= math.log(1 / cfg.alpha)
    return np.where(fired.any(axis=1), fired.argmax(axis=1) + 1, np.inf)


def runs(seed, p0, p1, rate, share, seconds, count):
    rng = np.random.default_rng(seed)
    arrivals = rng.poisson(rate, (count, seconds))
    c = rng.binomial(arrivals, share)
    b = arrivals - c
    return [
        np.cumsum(a, axis=1).astype(float) for a in (c, rng.binomial(c, p1), b, rng.binomial(b, p0))
    ]


@pytest.mark.parametrize(
    ("label", "cfg", "p1"),
    [
        ("A/A, no tolerance: the null's edge", AnalysisConfig(max_error_rate_increase=0.0), 0.001),
        ("canary exactly +1 point: the null's edge", CFG, 0.011),
        ("A/A at the defaults", CFG, 0.001),
    ],
)
def test_false_alarms_stay_below_alpha_when_checked_every_second_at_low_counts(label, cfg, p1):
    """3000 seeded runs of 10 minutes at 20 req/s with a 5% canary (one canary request a
    second, about one baseline error a minute), checked after every sample. The bound
    (Ville) allows alpha = 1%; a normal-approximation test checked this often is far
    above it at these counts."""
    n1, x1, n0, x0 = runs(11, 0.001, p1, 20, 0.05, 600, 3000)
    rate = float(np.isfinite(first_fail(n1, x1, n0, x0, cfg)).mean())
    assert rate <= cfg.alpha, label


def test_a_naive_normal_sequential_test_is_not_calibrated_here():
    """The contrast that motivates the exact construction: a z-test of p1 - p0 at the same
    alpha, looked at every second, rolls back far more than 1% of the same A/A runs."""
    n1, x1, n0, x0 = runs(11, 0.001, 0.001, 20, 0.05, 600, 3000)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r0 = x1 / n1, x0 / n0
        pooled = (x1 + x0) / (n1 + n0)
        z = (r1 - r0) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    fired = (np.nan_to_num(z) > 2.326) & (n1 >= 50)
    assert fired.any(axis=1).mean() > 0.05


def test_a_5_point_canary_at_5_percent_of_200_req_s_is_caught_in_seconds():
    n1, x1, n0, x0 = runs(5, 0.001, 0.05, 200, 0.05, 120, 400)
    t = first_fail(n1, x1, n0, x0, CFG)
    assert np.isfinite(t).all()
    assert np.median(t) < 30


def test_judge_and_the_vectorised_path_agree_on_when_to_fail():
    for seed in (1, 2, 3):
        w = simulate(seed, 0.001, 0.05, 200, 0.05, 60)
        n1, x1 = (
            np.array([[c.requests for c in w.canary[1:]]], float),
            np.array([[c.errors for c in w.canary[1:]]], float),
        )
        n0, x0 = (
            np.array([[c.requests for c in w.baseline[1:]]], float),
            np.array([[c.errors for c in w.baseline[1:]]], float),
        )
        expected = first_fail(n1, x1, n0, x0, CFG)[0]
        verdicts = [judge(CFG, head(w, k + 1)).verdict for k in range(1, 61)]
        got = next((k for k, v in enumerate(verdicts, start=1) if v is Verdict.FAIL), math.inf)
        assert got == expected
        assert all(v is not Verdict.FAIL for v in verdicts[: int(got) - 1])


def test_fail_carries_the_numbers_behind_it():
    j = judge(CFG, window(300, 15, 5700, 6))
    assert j.verdict is Verdict.FAIL and j.reason == "error_rate_increase"
    m = j.measurements
    assert m["canary"] == {"requests": 300, "errors": 15, "error_rate": 0.05}
    assert m["difference"]["lower"] > 0.01  # the always-valid interval clears the tolerance
    assert m["log_e_value"] >= m["log_threshold"] == pytest.approx(math.log(100))
    assert m["p_value"] <= 0.01 and m["side"] == "above"
    json.dumps(m, allow_nan=False)


def test_a_good_canary_passes_early_when_its_upper_bound_is_under_the_tolerance():
    j = judge(CFG, window(800, 0, 15200, 15))
    assert j.verdict is Verdict.PASS and j.reason == "within_tolerance"
    assert j.measurements["difference"]["upper"] < 0.01
    assert judge(CFG, window(300, 0, 5700, 6)).verdict is Verdict.NOT_ENOUGH_DATA  # not yet


def test_the_interval_agrees_with_the_decision():
    for n1, x1, n0, x0 in [
        (300, 15, 5700, 6),
        (800, 0, 15200, 15),
        (500, 9, 9500, 10),
        (60, 4, 1140, 1),
    ]:
        e = evidence(n1, x1, n0, x0, CFG)
        low, high = interval(e)
        assert low <= x1 / n1 - x0 / n0 <= high
        assert (e.decided and e.above) == (low > 0.01)
        assert (e.decided and not e.above) == (high < 0.01)


def test_not_enough_data_before_min_requests_says_how_many_more():
    j = judge(CFG, window(20, 0, 380, 0))
    assert j.verdict is Verdict.NOT_ENOUGH_DATA and j.reason == "too_few_requests"
    assert j.needed is not None and j.needed >= 30


def test_needed_is_what_it_takes_at_the_current_rates():
    n1, x1, n0, x0 = 100, 0, 1900, 2
    j = judge(CFG, window(n1, x1, n0, x0))
    assert j.verdict is Verdict.NOT_ENOUGH_DATA and j.reason == "collecting"
    more = j.needed
    assert more is not None and more > 0

    def at(m):
        ratio = n0 / n1
        return judge(
            CFG, window(n1 + m, x1, n0 + round(m * ratio), x0 + round(m * ratio * x0 / n0))
        )

    assert at(math.ceil(1.02 * more)).verdict is Verdict.PASS
    assert at(math.floor(0.9 * more)).verdict is Verdict.NOT_ENOUGH_DATA


def test_no_decision_in_sight_at_the_tolerance_itself():
    j = judge(CFG, window(2000, 22, 38000, 38))  # 1.1% vs 0.1%: exactly on the line
    assert j.verdict is Verdict.RUNNING and j.reason == "undecided" and j.needed is None


def test_without_baseline_traffic_it_never_fails_but_can_pass():
    assert evidence(300, 30, 0, 0, CFG).decided is False  # 10% errors, baseline unknown
    j = judge(CFG, window(300, 30, 0, 0))
    assert j.verdict is Verdict.RUNNING and "baseline served no requests" in j.message
    e = evidence(2000, 0, 0, 0, CFG)  # p1 < tolerance holds whatever p0 >= 0 is
    assert e.decided and not e.above


def test_needed_is_none_without_canary_requests():
    assert needed(evidence(0, 0, 1000, 1, CFG)) is None
