"""Peeking at an A/B test: false positives and power of the sequential engine against a
t-test re-run at every look (seeded simulation).

    .venv/bin/python bench/experiments.py               # the tables (about 2 s)
    .venv/bin/python bench/experiments.py --json        # the figures as JSON
    .venv/bin/python bench/experiments.py --quick       # fewer simulations (smoke test)

Each simulated experiment splits units 50/50 into control and treatment; a unit
converts with probability ``p`` (control) or ``p (1 + lift)`` (treatment). After every
``--every`` units (100) someone looks at the results, up to ``--looks`` looks (100, so
10,000 units). Per look both methods of ``turnout.experiments`` are computed from the
running counts, with the very functions the engine uses (``lift_and_variance``,
``log_evalue``), vectorised over the simulations:

- **naive peeking**: the two-sided Welch test of the lift, declared significant at the
  first look where p < alpha (what a dashboard refreshed daily invites);
- **sequential**: the always-valid confidence sequence, declared at the first look where
  it excludes 0;
- **fixed horizon**: the Welch test once, at the last look (the planned sample size).

On A/A data (``lift = 0``) the share of experiments ever declared significant is the
false positive rate; each comes with its 95% Wilson interval. With an effect it is the
power, and for the sequential engine the median number of units at which it decided.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from turnout.experiments.sequential import DEFAULT_TUNING, log_evalue
from turnout.experiments.stats import lift_and_variance

LIFTS = (0.05, 0.10, 0.15, 0.20)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def simulate(
    rng: np.random.Generator, sims: int, looks: int, every: int, p: float, lift: float,
    alpha: float, tuning: float,
) -> dict[str, Any]:  # fmt: skip
    """Run ``sims`` experiments with a look every ``every`` units."""
    half = every // 2
    xc = rng.binomial(half, p, (sims, looks)).cumsum(axis=1).astype(float)
    xt = rng.binomial(half, p * (1 + lift), (sims, looks)).cumsum(axis=1).astype(float)
    n = half * np.arange(1, looks + 1, dtype=float)  # units per arm at each look
    mc, mt = xc / n, xt / n
    with np.errstate(divide="ignore", invalid="ignore"):
        est, var = lift_and_variance(n, mc, mc * (1 - mc), n, mt, mt * (1 - mt))
        a, b = mc * (1 - mc) / n, mt * (1 - mt) / n
        dof = (a + b) ** 2 / (a * a / (n - 1) + b * b / (n - 1))
        naive_p = 2 * sps.t.sf(np.abs(est / np.sqrt(var)), dof)
        log_e = log_evalue(2 * n, est, var, alpha, tuning)
    ok = np.isfinite(est) & (var > 0)  # a look with no conversion yet decides nothing
    naive = ok & (naive_p < alpha)
    seq = ok & (log_e > math.log(1 / alpha))
    if lift != 0:  # power counts decisions in the right direction only
        naive &= est > 0
        seq &= est > 0
    seq_any = seq.any(axis=1)
    first = np.where(seq_any, seq.argmax(axis=1), -1)
    stops = 2 * half * (first[seq_any] + 1)
    return {
        "naive_peeking": int(naive.any(axis=1).sum()),
        "sequential": int(seq_any.sum()),
        "fixed_horizon": int(naive[:, -1].sum()),
        "sequential_median_units": float(np.median(stops)) if stops.size else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    aa = simulate(rng, args.sims, args.looks, args.every, args.p, 0.0, args.alpha, args.tuning)
    rates = {}
    for key in ("naive_peeking", "sequential", "fixed_horizon"):
        lo, hi = wilson(aa[key], args.sims)
        rates[key] = {"rate": aa[key] / args.sims, "ci95": [lo, hi]}
    power = []
    for lift in LIFTS:
        sims = max(200, args.sims // 4)
        got = simulate(rng, sims, args.looks, args.every, args.p, lift, args.alpha, args.tuning)
        power.append(
            {
                "lift": lift,
                "fixed_horizon": got["fixed_horizon"] / sims,
                "sequential": got["sequential"] / sims,
                "naive_peeking": got["naive_peeking"] / sims,
                "sequential_median_units": got["sequential_median_units"],
                "sims": sims,
            }
        )
    return {
        "seed": args.seed,
        "alpha": args.alpha,
        "p": args.p,
        "sims": args.sims,
        "looks": args.looks,
        "every": args.every,
        "units": args.looks * args.every,
        "tuning": args.tuning,
        "false_positive_rate": rates,
        "power": power,
        "seconds": round(time.perf_counter() - started, 2),
        "python": platform.python_version(),
    }


def table(r: dict[str, Any]) -> str:
    fpr = r["false_positive_rate"]
    out = [
        f"A/A: {r['sims']} experiments, conversion {r['p']:.0%}, a look every {r['every']} "
        f"units up to {r['units']}, alpha {r['alpha']}",
        "",
        "| method | false positive rate | 95% interval |",
        "|---|---|---|",
    ]
    names = {"naive_peeking": "t-test at every look (naive peeking)",
             "sequential": "sequential (confidence sequence) at every look",
             "fixed_horizon": "t-test once, at the planned sample"}  # fmt: skip
    for key, name in names.items():
        lo, hi = fpr[key]["ci95"]
        out.append(f"| {name} | {fpr[key]['rate']:.1%} | {lo:.1%} - {hi:.1%} |")
    out += ["", f"Power (relative lift on a {r['p']:.0%} baseline, {r['units']} units):", "",
            "| lift | fixed horizon | sequential | sequential decided at (median units) |",
            "|---|---|---|---|"]  # fmt: skip
    for row in r["power"]:
        stop = row["sequential_median_units"]
        out.append(
            f"| +{row['lift']:.0%} | {row['fixed_horizon']:.0%} | {row['sequential']:.0%} | "
            f"{'-' if stop is None else f'{stop:,.0f}'} |"
        )
    out.append(f"\n({r['seconds']} s, seed {r['seed']})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=10000)
    ap.add_argument("--looks", type=int, default=100)
    ap.add_argument("--every", type=int, default=100, help="units between looks (even)")
    ap.add_argument("--p", type=float, default=0.10, help="control conversion rate")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--tuning", type=float, default=DEFAULT_TUNING)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--quick", action="store_true", help="600 simulations, 50 looks")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.every < 2 or args.every % 2:
        ap.error("--every must be an even number >= 2")
    if args.quick:
        args.sims, args.looks = 600, 50
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
