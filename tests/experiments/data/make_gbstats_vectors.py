"""Write gbstats_vectors.json: GrowthBook's stats engine (gbstats 0.8.0, MIT licence) run on
the inputs tests/experiments/test_stats_reference.py checks turnout's engine with.

The JSON holds only inputs and gbstats' outputs (full float precision), so the tests need
neither gbstats nor its pins (numpy<2, pandas<2). Regenerate it, from the repository root,
in a throwaway environment outside the repository:

    python3 -m venv /tmp/gbref && /tmp/gbref/bin/pip install gbstats==0.8.0
    /tmp/gbref/bin/python tests/experiments/data/make_gbstats_vectors.py

Not a test module (pytest collects test_*.py only) and not imported by the tests.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from gbstats.bayesian import tests as gb_bayes
from gbstats.frequentist import tests as gb_freq
from gbstats.models import statistics as gb_stat
from gbstats.utils import check_srm

OUT = Path(__file__).with_name("gbstats_vectors.json")
COMMAND = "/tmp/gbref/bin/python tests/experiments/data/make_gbstats_vectors.py"

# (n_c, conversions_c, n_t, conversions_t): small, typical, large, negative lift
PROPORTIONS = [(120, 13, 118, 21), (5000, 500, 5000, 560), (200_000, 6100, 199_500, 6003),
               (3000, 900, 3100, 870)]  # fmt: skip
# (n, sum, sum of squares) per variant: revenue-like means
MEANS = [((800, 16_000.0, 900_000.0), (790, 17_300.0, 1_010_000.0)),
         ((40, 4.0, 10.0), (45, 7.5, 20.25)),
         ((12_000, 36_000.5, 160_000.0), (12_100, 35_100.0, 150_900.0))]  # fmt: skip
ALPHAS = [0.05, 0.1]
TUNINGS = [5000, 800]
PRIOR = {"mean": 0.01, "variance": 0.04, "proper": True}
CUPED_SEEDS = [1, 2, 3]
SRM_CASES = [([5000, 5400], [0.5, 0.5]), ([5000, 5050], [50, 50]),
             ([3300, 3350, 3400], [1, 1, 1]), ([1000, 4100], [20, 80])]  # fmt: skip


def num(x: Any) -> float:
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"gbstats returned {f}")
    return f


def pair_inputs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"kind": "proportion", "control": {"n": a, "sum": b}, "treatment": {"n": c, "sum": d}}
        for a, b, c, d in PROPORTIONS
    ]
    for c, t in MEANS:
        out.append({
            "kind": "mean",
            "control": {"n": c[0], "sum": c[1], "sum_squares": c[2]},
            "treatment": {"n": t[0], "sum": t[1], "sum_squares": t[2]},
        })  # fmt: skip
    return out


def gb_statistic(kind: str, v: dict[str, Any]) -> Any:
    if kind == "proportion":
        return gb_stat.ProportionStatistic(n=v["n"], sum=v["sum"])
    return gb_stat.SampleMeanStatistic(n=v["n"], sum=v["sum"], sum_squares=v["sum_squares"])


def gb_pairs(pairs: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(gb_statistic(p["kind"], p["control"]), gb_statistic(p["kind"], p["treatment"]))
            for p in pairs]  # fmt: skip


def interval(ref: Any) -> dict[str, float]:
    return {"expected": num(ref.expected), "ci_low": num(ref.ci[0]), "ci_high": num(ref.ci[1])}


def frequentist(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    relative = []
    for alpha in ALPHAS:
        results = []
        for gc, gt in gb_pairs(pairs):
            cfg = gb_freq.FrequentistConfig(alpha=alpha)
            ref = gb_freq.TwoSidedTTest(gc, gt, cfg).compute_result()
            results.append({**interval(ref), "p_value": num(ref.p_value),
                            "stddev": num(ref.uplift.stddev)})  # fmt: skip
        relative.append({"alpha": alpha, "results": results})
    absolute = []
    cfg = gb_freq.FrequentistConfig(difference_type="absolute")
    for gc, gt in gb_pairs(pairs):
        ref = gb_freq.TwoSidedTTest(gc, gt, cfg).compute_result()
        absolute.append({**interval(ref), "p_value": num(ref.p_value),
                         "stddev": num(ref.uplift.stddev)})  # fmt: skip
    return {"relative": relative, "absolute": {"alpha": cfg.alpha, "results": absolute}}


def sequential(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tuning in TUNINGS:
        cfg = gb_freq.SequentialConfig(sequential_tuning_parameter=tuning)
        results = []
        for gc, gt in gb_pairs(pairs):
            ref = gb_freq.SequentialTwoSidedTTest(gc, gt, cfg).compute_result()
            results.append({**interval(ref), "p_value": num(ref.p_value)})
        out.append({"tuning": tuning, "alpha": cfg.alpha, "results": results})
    return out


def bayes_result(ref: Any) -> dict[str, Any]:
    return {**interval(ref), "chance_to_win": num(ref.chance_to_win),
            "risk": [num(ref.risk[0]), num(ref.risk[1])]}  # fmt: skip


def bayesian(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    flat = []
    for inverse in (False, True):
        cfg = gb_bayes.EffectBayesianConfig(inverse=inverse)
        results = [bayes_result(gb_bayes.EffectBayesianABTest(gc, gt, cfg).compute_result())
                   for gc, gt in gb_pairs(pairs)]  # fmt: skip
        flat.append({"inverse": inverse, "results": results})
    prior = gb_bayes.GaussianPrior(**PRIOR)
    cfg = gb_bayes.EffectBayesianConfig(prior_effect=prior)
    proper = [bayes_result(gb_bayes.EffectBayesianABTest(gc, gt, cfg).compute_result())
              for gc, gt in gb_pairs(pairs)]  # fmt: skip
    return {"flat_prior": flat, "proper_prior": {"prior": PRIOR, "results": proper}}


def units(seed: int, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 5.0, n)
    post = 0.8 * pre + rng.normal(3.0 + shift, 4.0, n)
    return pre, post


def paired_sums(pre: np.ndarray, post: np.ndarray) -> dict[str, Any]:
    return {
        "n": len(post),
        "post_sum": float(post.sum()),
        "post_sum_squares": float((post**2).sum()),
        "pre_sum": float(pre.sum()),
        "pre_sum_squares": float((pre**2).sum()),
        "post_pre_sum_of_products": float((pre * post).sum()),
    }


def gb_paired(v: dict[str, Any]) -> Any:
    n = v["n"]
    return gb_stat.RegressionAdjustedStatistic(
        n=n,
        post_statistic=gb_stat.SampleMeanStatistic(
            n=n, sum=v["post_sum"], sum_squares=v["post_sum_squares"]
        ),
        pre_statistic=gb_stat.SampleMeanStatistic(
            n=n, sum=v["pre_sum"], sum_squares=v["pre_sum_squares"]
        ),
        post_pre_sum_of_products=v["post_pre_sum_of_products"],
        theta=0,
    )


def cuped() -> list[dict[str, Any]]:
    out = []
    for seed in CUPED_SEEDS:
        # The inputs are the sums of units drawn as below; the sums, not the draws, are stored.
        control = paired_sums(*units(seed, 3000, 0.0))
        treatment = paired_sums(*units(seed + 100, 3100, 0.4))
        gc, gt = gb_paired(control), gb_paired(treatment)
        ref = gb_freq.TwoSidedTTest(gc, gt).compute_result()  # sets theta on the statistics
        out.append({
            "case": seed,
            "control": control,
            "treatment": treatment,
            "theta": num(gc.theta),
            **interval(ref),
            "p_value": num(ref.p_value),
        })  # fmt: skip
    return out


def ratio() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    variants = []
    stats = []
    for n, rate in ((900, 0.30), (950, 0.33)):
        sessions = rng.poisson(3, n) + 1.0
        clicks = rng.binomial(sessions.astype(int), rate).astype(float)
        v = {
            "n": n,
            "m_sum": float(clicks.sum()),
            "m_sum_squares": float((clicks**2).sum()),
            "d_sum": float(sessions.sum()),
            "d_sum_squares": float((sessions**2).sum()),
            "m_d_sum_of_products": float((clicks * sessions).sum()),
        }
        ref = gb_stat.RatioStatistic(
            n=n,
            m_statistic=gb_stat.SampleMeanStatistic(
                n=n, sum=v["m_sum"], sum_squares=v["m_sum_squares"]
            ),
            d_statistic=gb_stat.SampleMeanStatistic(
                n=n, sum=v["d_sum"], sum_squares=v["d_sum_squares"]
            ),
            m_d_sum_of_products=v["m_d_sum_of_products"],
        )
        variants.append({**v, "mean": num(ref.mean), "variance": num(ref.variance)})
        stats.append(ref)
    ref_r = gb_freq.TwoSidedTTest(stats[0], stats[1]).compute_result()
    return {
        "control": variants[0],
        "treatment": variants[1],
        **interval(ref_r),
        "p_value": num(ref_r.p_value),
    }


def srm() -> list[dict[str, Any]]:
    return [{"counts": c, "weights": w, "p_value": num(check_srm(c, w))} for c, w in SRM_CASES]


def main() -> None:
    if version("gbstats") != "0.8.0":
        sys.exit(f"gbstats 0.8.0 is the reference; this environment has {version('gbstats')}")
    pairs = pair_inputs()
    doc = {
        "source": "gbstats 0.8.0 (GrowthBook's stats engine, "
        "https://github.com/growthbook/growthbook/tree/main/packages/stats), MIT licence",
        "what": "inputs and gbstats' outputs for tests/experiments/test_stats_reference.py; "
        "facts only, no gbstats code. Floats at full precision (repr round-trips).",
        "regenerate": COMMAND,
        "environment": {
            "python": platform.python_version(),
            "gbstats": version("gbstats"),
            "numpy": np.__version__,
            "scipy": version("scipy"),
        },
        "pairs": pairs,
        "frequentist": frequentist(pairs),
        "sequential": sequential(pairs),
        "bayesian": bayesian(pairs),
        "cuped": cuped(),
        "ratio": ratio(),
        "srm": srm(),
    }
    OUT.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
