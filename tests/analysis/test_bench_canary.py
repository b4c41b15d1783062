"""``bench/canary_decisions.py --quick --json``: the report's shape and turnout's A/A
false-alarm rate. Speed is not asserted here; it lives in the bench's own output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from turnout.core.analysis.mannwhitney import classify

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "canary_decisions.py"
sys.path.insert(0, str(BENCH.parent))

import canary_decisions as bench  # noqa: E402


@pytest.fixture(scope="module")
def report():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_the_report_covers_the_grid_for_every_method(report):
    assert report["methods"] == list(bench.METHODS)
    cells = report["cells"]
    assert {(c["share"], c["rate"]) for c in cells} == {
        (s, r) for s in bench.SHARES for r in bench.RATES
    }
    for c in cells:
        assert [d["increase"] for d in c["detection"]] == list(bench.INCREASES)
        for d in c["detection"]:
            assert set(d["methods"]) == set(bench.METHODS)
            for s in d["methods"].values():
                assert set(s) == {"median_s", "p95_s", "detected", "runs"}
                assert 0 <= s["detected"] <= 1
        assert set(c["aa"]["false_rollback_rate"]) == set(bench.METHODS)
        assert c["aa"]["runs"] >= 200
        assert set(c["calibrated"]) == {"flagger", "argo", "thresholds", "kayenta"}
    assert set(report["targets"]) >= {"false_rollbacks_ok", "median_ok", "ahead"}


def test_turnouts_ab_false_rollbacks_stay_at_alpha(report):
    alpha = report["config"]["turnout"]["alpha"]
    for c in report["cells"]:
        runs = c["aa"]["runs"]
        for method in ("turnout", "turnout@1%"):
            assert c["aa"]["false_rollback_rate"][method] <= alpha + 3 / runs


def test_the_vectorised_kayenta_test_is_the_judges_classifier():
    """The bench's fast path gives "high" exactly when turnout's classify() does."""
    sim = bench.simulate(9, 0.02, 0.2, 200, 40, 180)
    p, tests = bench.kayenta_pvalues(sim)
    steps = np.arange(bench.KAYENTA_STEP, 181, bench.KAYENTA_STEP)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.diff(sim.x1[:, np.r_[0, steps]], axis=1) / np.diff(
            sim.n1[:, np.r_[0, steps]], axis=1
        )
        b = np.diff(sim.x0[:, np.r_[0, steps]], axis=1) / np.diff(
            sim.n0[:, np.r_[0, steps]], axis=1
        )
    agree, labels = 0, set()
    for run in range(40):
        for t, when in enumerate(tests):
            k = int(when) // bench.KAYENTA_STEP
            label = classify("error_rate", list(c[run, :k]), list(b[run, :k]), 0.98, 0.25).label
            assert (label.value == "high") == (p[run, t] <= 0.02), (run, t)
            agree += 1
            labels.add(label.value)
    assert agree == 40 * len(tests) and labels == {"high", "pass"}
