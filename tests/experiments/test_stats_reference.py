"""The stats engine against the references: GrowthBook's gbstats (frequentist, Bayesian,
sequential, CUPED, ratio metrics, SRM) and scipy (the t-test, BH)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from turnout.experiments import (
    Moments,
    Paired,
    Sample,
    bayes,
    benjamini_hochberg,
    cuped,
    holm,
    ratio_sample,
    sequential,
    srm_pvalue,
    welch,
    welch_test,
)

gb_freq = pytest.importorskip("gbstats.frequentist.tests", reason="gbstats (test extra) missing")
gb_bayes = pytest.importorskip("gbstats.bayesian.tests")
gb_stat = pytest.importorskip("gbstats.models.statistics")
gb_utils = pytest.importorskip("gbstats.utils")

TOL = 1e-6

# (n_c, conversions_c, n_t, conversions_t): small, typical, large, negative lift
PROPORTIONS = [(120, 13, 118, 21), (5000, 500, 5000, 560), (200_000, 6100, 199_500, 6003),
               (3000, 900, 3100, 870)]  # fmt: skip
# (n, sum, sum of squares) per variant: revenue-like means
MEANS = [((800, 16_000.0, 900_000.0), (790, 17_300.0, 1_010_000.0)),
         ((40, 4.0, 10.0), (45, 7.5, 20.25)),
         ((12_000, 36_000.5, 160_000.0), (12_100, 35_100.0, 150_900.0))]  # fmt: skip


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def gb_prop(n: int, s: int) -> object:
    return gb_stat.ProportionStatistic(n=n, sum=s)


def gb_mean(n: int, s: float, ss: float) -> object:
    return gb_stat.SampleMeanStatistic(n=n, sum=s, sum_squares=ss)


def ours_prop(n: int, s: int) -> Sample:
    return Moments(n, s, s, binary=True).sample()


def ours_mean(n: int, s: float, ss: float) -> Sample:
    return Moments(n, s, ss).sample()


def pairs() -> list[tuple[Sample, Sample, object, object]]:
    out = [(ours_prop(a, b), ours_prop(c, d), gb_prop(a, b), gb_prop(c, d))
           for a, b, c, d in PROPORTIONS]  # fmt: skip
    out += [(ours_mean(*a), ours_mean(*b), gb_mean(*a), gb_mean(*b)) for a, b in MEANS]
    return out


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_frequentist_matches_gbstats(alpha: float) -> None:
    for c, t, gc, gt in pairs():
        ref = gb_freq.TwoSidedTTest(gc, gt, gb_freq.FrequentistConfig(alpha=alpha)).compute_result()
        got = welch(c, t, alpha)
        assert close(got.estimate, ref.expected)
        assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])
        assert close(got.p_value, ref.p_value)
        assert close(got.se, ref.uplift.stddev)


def test_frequentist_absolute_matches_gbstats() -> None:
    for c, t, gc, gt in pairs():
        cfg = gb_freq.FrequentistConfig(difference_type="absolute")
        ref = gb_freq.TwoSidedTTest(gc, gt, cfg).compute_result()
        got = welch(c, t, relative=False)
        assert close(got.estimate, ref.expected) and close(got.p_value, ref.p_value)
        assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])


@pytest.mark.parametrize("tuning", [5000, 800])
def test_sequential_matches_gbstats(tuning: float) -> None:
    for c, t, gc, gt in pairs():
        cfg = gb_freq.SequentialConfig(sequential_tuning_parameter=tuning)
        ref = gb_freq.SequentialTwoSidedTTest(gc, gt, cfg).compute_result()
        got = sequential(c, t, 0.05, tuning)
        assert close(got.estimate, ref.expected)
        assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])
        assert close(got.p_value, ref.p_value)


@pytest.mark.parametrize("inverse", [False, True])
def test_bayesian_matches_gbstats(inverse: bool) -> None:
    for c, t, gc, gt in pairs():
        cfg = gb_bayes.EffectBayesianConfig(inverse=inverse)
        ref = gb_bayes.EffectBayesianABTest(gc, gt, cfg).compute_result()
        got = bayes(c, t, decrease=inverse)
        assert close(got.mean, ref.expected)
        assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])
        assert close(got.chance_to_win, ref.chance_to_win)
        # gbstats: risk = [loss of keeping the control, loss of shipping the treatment]
        assert close(got.risk_control, ref.risk[0]) and close(got.risk_treatment, ref.risk[1])


def test_bayesian_proper_prior_matches_gbstats() -> None:
    for c, t, gc, gt in pairs():
        prior = gb_bayes.GaussianPrior(mean=0.01, variance=0.04, proper=True)
        ref = gb_bayes.EffectBayesianABTest(
            gc, gt, gb_bayes.EffectBayesianConfig(prior_effect=prior)
        ).compute_result()
        got = bayes(c, t, prior_mean=0.01, prior_variance=0.04)
        assert close(got.mean, ref.expected) and close(got.chance_to_win, ref.chance_to_win)
        assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])


def _units(seed: int, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 5.0, n)
    post = 0.8 * pre + rng.normal(3.0 + shift, 4.0, n)
    return pre, post


def _paired(pre: np.ndarray, post: np.ndarray) -> tuple[Paired, object]:
    mine = Paired(
        Moments(len(post), float(post.sum()), float((post**2).sum())),
        Moments(len(pre), float(pre.sum()), float((pre**2).sum())),
        float((pre * post).sum()),
    )
    ref = gb_stat.RegressionAdjustedStatistic(
        n=len(post),
        post_statistic=gb_mean(len(post), float(post.sum()), float((post**2).sum())),
        pre_statistic=gb_mean(len(pre), float(pre.sum()), float((pre**2).sum())),
        post_pre_sum_of_products=float((pre * post).sum()),
        theta=0,
    )
    return mine, ref


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cuped_matches_gbstats(seed: int) -> None:
    c, gc = _paired(*_units(seed, 3000, 0.0))
    t, gt = _paired(*_units(seed + 100, 3100, 0.4))
    sc, st, theta = cuped(c, t)
    ref = gb_freq.TwoSidedTTest(gc, gt).compute_result()  # sets theta on the statistics
    assert close(theta, gc.theta)
    got = welch(sc, st)
    assert close(got.estimate, ref.expected) and close(got.p_value, ref.p_value)
    assert close(got.ci_low, ref.ci[0]) and close(got.ci_high, ref.ci[1])
    plain = welch(c.post.sample(), t.post.sample())
    assert got.ci_high - got.ci_low < 0.6 * (plain.ci_high - plain.ci_low)  # it does reduce


def test_ratio_matches_gbstats() -> None:
    rng = np.random.default_rng(7)
    out = []
    for n, rate in ((900, 0.30), (950, 0.33)):
        sessions = rng.poisson(3, n) + 1.0
        clicks = rng.binomial(sessions.astype(int), rate).astype(float)
        m = Moments(n, float(clicks.sum()), float((clicks**2).sum()))
        d = Moments(n, float(sessions.sum()), float((sessions**2).sum()))
        mine = ratio_sample(m, d, float((clicks * sessions).sum()))
        ref = gb_stat.RatioStatistic(
            n=n, m_statistic=gb_mean(n, m.sum, m.sum_sq), d_statistic=gb_mean(n, d.sum, d.sum_sq),
            m_d_sum_of_products=float((clicks * sessions).sum()),
        )  # fmt: skip
        assert close(mine.mean, ref.mean) and close(mine.variance, ref.variance)
        out.append((mine, ref))
    (c, gc), (t, gt) = out
    ref_r = gb_freq.TwoSidedTTest(gc, gt).compute_result()
    got = welch(c, t)
    assert close(got.p_value, ref_r.p_value) and close(got.ci_low, ref_r.ci[0])


def test_srm_matches_gbstats_and_flags_acceptance_cases() -> None:
    assert srm_pvalue([5000, 5400], [0.5, 0.5]) < 0.001  # acceptance 1: flagged
    assert srm_pvalue([5000, 5050], [0.5, 0.5]) > 0.001  # acceptance 1: not flagged
    for counts, weights in (([5000, 5400], [0.5, 0.5]), ([5000, 5050], [50, 50]),
                            ([3300, 3350, 3400], [1, 1, 1]), ([1000, 4100], [20, 80])):  # fmt: skip
        assert close(srm_pvalue(counts, weights), gb_utils.check_srm(counts, weights))


def test_welch_test_agrees_with_scipy() -> None:
    rng = np.random.default_rng(3)
    for n_c, n_t, shift in ((30, 45, 0.5), (500, 480, 0.1), (8, 11, 2.0)):
        x = rng.normal(10, 2, n_c)
        y = rng.normal(10 + shift, 3, n_t)
        got = welch_test(n_c, x.mean(), x.var(ddof=1), n_t, y.mean(), y.var(ddof=1),
                         relative=False)  # fmt: skip
        ref = sps.ttest_ind(y, x, equal_var=False)
        assert close(got.statistic, float(ref.statistic)) and close(got.p_value, ref.pvalue)
        assert close(got.dof, float(ref.df))
        ci = ref.confidence_interval(0.95)
        assert close(got.ci_low, float(ci.low)) and close(got.ci_high, float(ci.high))
        from_stats = sps.ttest_ind_from_stats(
            y.mean(), y.std(ddof=1), n_t, x.mean(), x.std(ddof=1), n_c, equal_var=False
        )
        assert close(got.p_value, from_stats.pvalue)


def test_welch_test_contract_relative_lift() -> None:
    r = welch_test(5000, 0.10, 0.09, 5000, 0.112, 0.112 * 0.888)
    assert close(r.lift, 0.12)
    assert r.ci_low < 0.12 < r.ci_high
    assert (r.p_value < 0.05) == (r.ci_low > 0 or r.ci_high < 0)
    assert r.difference == pytest.approx(0.012)


def test_holm_and_bh() -> None:
    ps = [0.01, 0.04, 0.03, 0.005, 0.20]
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04, 0.20 times 5, 4, 3, 2, 1, running max
    assert holm(ps) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.20])
    assert benjamini_hochberg(ps) == pytest.approx(list(sps.false_discovery_control(ps)))
    assert holm([0.01, None, 0.02]) == pytest.approx([0.02, None, 0.02])
