"""bench/experiments.py --quick --json: its structure, and what acceptance 2 claims: with a
look every 100 units, the sequential engine's false positive rate stays at alpha while a
t-test re-run at every look exceeds it several times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "experiments.py"


def test_quick_json_and_the_peeking_claims() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--json"], capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    r = json.loads(out.stdout)
    assert r.keys() >= {"seed", "alpha", "sims", "looks", "every", "units", "false_positive_rate",
                        "power", "seconds"}  # fmt: skip
    fpr = r["false_positive_rate"]
    alpha = r["alpha"]
    assert fpr["sequential"]["rate"] <= alpha + 0.02  # 600 simulations: sd about 0.009
    assert fpr["naive_peeking"]["rate"] > 3 * alpha
    assert alpha - 0.03 < fpr["fixed_horizon"]["rate"] < alpha + 0.03
    lo, hi = fpr["sequential"]["ci95"]
    assert lo <= fpr["sequential"]["rate"] <= hi
    lifts = [row["lift"] for row in r["power"]]
    fixed = [row["fixed_horizon"] for row in r["power"]]
    assert lifts == sorted(lifts) and fixed == sorted(fixed) and fixed[-1] > 0.5
    assert all(row["sequential"] <= row["naive_peeking"] for row in r["power"])
    table = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                           text=True, timeout=120, check=True).stdout  # fmt: skip
    assert "| sequential (confidence sequence) at every look |" in table
