"""The stats engine against the references: GrowthBook's gbstats 0.8.0 (frequentist, Bayesian,
sequential, CUPED, ratio metrics, SRM) and scipy (the t-test, BH).

gbstats' results are conformance vectors, data/gbstats_vectors.json (inputs and gbstats'
outputs; regenerate with data/make_gbstats_vectors.py), so gbstats and its numpy<2 and
pandas<2 pins are no test dependency: these tests always run, on the numpy users have."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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

VECTORS = Path(__file__).parent / "data" / "gbstats_vectors.json"
GB: dict[str, Any] = json.loads(VECTORS.read_text())

TOL = 1e-6


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def ours(kind: str, v: dict[str, Any]) -> Sample:
    if kind == "proportion":
        return Moments(v["n"], v["sum"], v["sum"], binary=True).sample()
    return Moments(v["n"], v["sum"], v["sum_squares"]).sample()


def pairs() -> list[tuple[Sample, Sample]]:
    """Small, typical, large and negative-lift proportions, then revenue-like means."""
    return [(ours(p["kind"], p["control"]), ours(p["kind"], p["treatment"])) for p in GB["pairs"]]


def with_refs(results: list[dict[str, Any]]) -> list[tuple[Sample, Sample, dict[str, Any]]]:
    ps = pairs()
    assert len(results) == len(ps) == 7
    return [(c, t, ref) for (c, t), ref in zip(ps, results, strict=True)]


def by(entries: list[dict[str, Any]], key: str, value: object) -> dict[str, Any]:
    (entry,) = [e for e in entries if e[key] == value]
    return entry


def test_vectors_header() -> None:
    assert GB["source"].startswith("gbstats 0.8.0") and "MIT" in GB["source"]
    assert GB["regenerate"].endswith("tests/experiments/data/make_gbstats_vectors.py")


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_frequentist_matches_gbstats(alpha: float) -> None:
    for c, t, ref in with_refs(by(GB["frequentist"]["relative"], "alpha", alpha)["results"]):
        got = welch(c, t, alpha)
        assert close(got.estimate, ref["expected"])
        assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])
        assert close(got.p_value, ref["p_value"])
        assert close(got.se, ref["stddev"])


def test_frequentist_absolute_matches_gbstats() -> None:
    absolute = GB["frequentist"]["absolute"]
    assert absolute["alpha"] == 0.05  # welch's default
    for c, t, ref in with_refs(absolute["results"]):
        got = welch(c, t, relative=False)
        assert close(got.estimate, ref["expected"]) and close(got.p_value, ref["p_value"])
        assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])


@pytest.mark.parametrize("tuning", [5000, 800])
def test_sequential_matches_gbstats(tuning: float) -> None:
    vec = by(GB["sequential"], "tuning", tuning)
    assert vec["alpha"] == 0.05
    for c, t, ref in with_refs(vec["results"]):
        got = sequential(c, t, 0.05, tuning)
        assert close(got.estimate, ref["expected"])
        assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])
        assert close(got.p_value, ref["p_value"])


@pytest.mark.parametrize("inverse", [False, True])
def test_bayesian_matches_gbstats(inverse: bool) -> None:
    for c, t, ref in with_refs(by(GB["bayesian"]["flat_prior"], "inverse", inverse)["results"]):
        got = bayes(c, t, decrease=inverse)
        assert close(got.mean, ref["expected"])
        assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])
        assert close(got.chance_to_win, ref["chance_to_win"])
        # gbstats: risk = [loss of keeping the control, loss of shipping the treatment]
        risk_control, risk_treatment = ref["risk"]
        assert close(got.risk_control, risk_control)
        assert close(got.risk_treatment, risk_treatment)


def test_bayesian_proper_prior_matches_gbstats() -> None:
    vec = GB["bayesian"]["proper_prior"]
    assert vec["prior"] == {"mean": 0.01, "variance": 0.04, "proper": True}
    for c, t, ref in with_refs(vec["results"]):
        got = bayes(c, t, prior_mean=0.01, prior_variance=0.04)
        assert close(got.mean, ref["expected"]) and close(got.chance_to_win, ref["chance_to_win"])
        assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])


def _paired(v: dict[str, Any]) -> Paired:
    n = v["n"]
    return Paired(
        Moments(n, v["post_sum"], v["post_sum_squares"]),
        Moments(n, v["pre_sum"], v["pre_sum_squares"]),
        v["post_pre_sum_of_products"],
    )


@pytest.mark.parametrize("case", [1, 2, 3])
def test_cuped_matches_gbstats(case: int) -> None:
    # sums of 3,000 and 3,100 units with post = 0.8 pre + noise (and a 0.4 shift in treatment)
    ref = by(GB["cuped"], "case", case)
    c, t = _paired(ref["control"]), _paired(ref["treatment"])
    sc, st, theta = cuped(c, t)
    assert close(theta, ref["theta"])
    got = welch(sc, st)
    assert close(got.estimate, ref["expected"]) and close(got.p_value, ref["p_value"])
    assert close(got.ci_low, ref["ci_low"]) and close(got.ci_high, ref["ci_high"])
    plain = welch(c.post.sample(), t.post.sample())
    assert got.ci_high - got.ci_low < 0.6 * (plain.ci_high - plain.ci_low)  # it does reduce


def test_ratio_matches_gbstats() -> None:
    # clicks per session: sums of 900 and 950 units with 1 + Poisson(3) sessions each
    ref = GB["ratio"]
    out = []
    for v in (ref["control"], ref["treatment"]):
        m = Moments(v["n"], v["m_sum"], v["m_sum_squares"])
        d = Moments(v["n"], v["d_sum"], v["d_sum_squares"])
        mine = ratio_sample(m, d, v["m_d_sum_of_products"])
        assert close(mine.mean, v["mean"]) and close(mine.variance, v["variance"])
        out.append(mine)
    c, t = out
    got = welch(c, t)
    assert close(got.p_value, ref["p_value"]) and close(got.ci_low, ref["ci_low"])
    assert close(got.estimate, ref["expected"]) and close(got.ci_high, ref["ci_high"])


def test_srm_matches_gbstats_and_flags_acceptance_cases() -> None:
    assert srm_pvalue([5000, 5400], [0.5, 0.5]) < 0.001  # acceptance 1: flagged
    assert srm_pvalue([5000, 5050], [0.5, 0.5]) > 0.001  # acceptance 1: not flagged
    assert len(GB["srm"]) == 4
    for ref in GB["srm"]:
        assert close(srm_pvalue(ref["counts"], ref["weights"]), ref["p_value"])


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
