"""``judge()``: dispatch on ``cfg.judge``, determinism, and measurements a report can print."""

from __future__ import annotations

import json

import pytest

from turnout.core.analysis.judge import judge
from turnout.core.analysis.model import Counts, Verdict, Window
from turnout.core.config import AnalysisConfig

from .windows import BOUNDS, from_intervals, head, simulate

JUDGES = ("thresholds", "mann-whitney", "sequential")


def test_fewer_than_two_samples_is_not_enough_data_for_every_judge():
    one = Window((0.0,), (Counts(0, 0),), (Counts(0, 0),))
    for name in JUDGES:
        j = judge(AnalysisConfig(judge=name), one)
        assert j.verdict is Verdict.NOT_ENOUGH_DATA and j.reason == "no_samples"
        assert j.needed == 50 and not j.final


@pytest.mark.parametrize("name", JUDGES)
def test_dispatch_reaches_the_configured_judge(name):
    w = simulate(1, 0.001, 0.05, 200, 0.05, 40)
    j = judge(AnalysisConfig(judge=name), w)
    assert j.measurements["judge"] == name


@pytest.mark.parametrize("name", JUDGES)
def test_the_same_window_gives_the_same_judgement(name):
    w = simulate(2, 0.001, 0.02, 200, 0.2, 45)
    assert judge(AnalysisConfig(judge=name), w) == judge(AnalysisConfig(judge=name), w)


@pytest.mark.parametrize("name", JUDGES)
def test_measurements_are_plain_json_at_every_step(name):
    w = simulate(3, 0.001, 0.05, 200, 0.05, 90)
    cfg = AnalysisConfig(judge=name, count=12)
    seen = set()
    for k in range(2, len(w.times) + 1, 3):
        j = judge(cfg, head(w, k))
        json.dumps(j.measurements, allow_nan=False)
        assert j.reason and j.message and "\n" not in j.message
        seen.add(j.verdict)
    assert Verdict.FAIL in seen  # every judge catches this canary within 90 s


def test_every_judge_fails_a_bad_canary_with_its_own_reason():
    rows = [((100, 6, [100] + [0] * 8), (1000, 1, [1000] + [0] * 8))] * 6
    w = from_intervals(rows, bounds=BOUNDS)
    reasons = {name: judge(AnalysisConfig(judge=name), w).reason for name in JUDGES}
    assert reasons == {
        "thresholds": "failure_limit_exceeded",
        "mann-whitney": "critical_metric_failed",
        "sequential": "error_rate_increase",
    }
