"""The thresholds judge: Argo Rollouts' measurement and metric semantics, edge by edge."""

from __future__ import annotations

import pytest

from turnout.core.analysis.judge import judge
from turnout.core.analysis.model import Verdict, Window
from turnout.core.analysis.thresholds import MetricState, Phase, assess
from turnout.core.config import AnalysisConfig

from .windows import BOUNDS, from_intervals

OK = ((100, 0), (1000, 1))  # canary 0% errors
BAD = ((100, 5), (1000, 1))  # canary 5% > 1%
EMPTY = ((0, 0), (1000, 1))  # no canary request in the interval: an error measurement


def cfg(**kw):
    return AnalysisConfig(judge="thresholds", min_requests=0, **kw)


def verdicts(c, rows):
    """The judgement after each interval, as the engine sees the window grow."""
    return [judge(c, from_intervals(rows[:k])) for k in range(1, len(rows) + 1)]


def test_failure_limit_3_fails_on_the_4th_failure_not_before():
    js = verdicts(cfg(failure_limit=3), [BAD, OK, BAD, BAD, OK, BAD, OK])
    assert [j.verdict for j in js] == [Verdict.RUNNING] * 5 + [Verdict.FAIL, Verdict.FAIL]
    assert js[5].reason == "failure_limit_exceeded"
    assert js[5].measurements["metrics"]["error_rate"]["failed"] == 4


def test_failure_limit_2_with_3_failures_fails():
    j = verdicts(cfg(failure_limit=2), [BAD, BAD, BAD])[-1]
    assert j.verdict is Verdict.FAIL and "3 failed" in j.message


def test_the_default_limit_0_fails_on_the_first_failure():
    js = verdicts(cfg(), [OK, OK, BAD])
    assert [j.verdict for j in js] == [Verdict.RUNNING, Verdict.RUNNING, Verdict.FAIL]


def test_failures_under_the_limit_do_not_prevent_a_pass_at_count():
    # Argo: once count is reached the counters are not checked against anything else
    js = verdicts(cfg(failure_limit=1, count=3), [BAD, OK, OK])
    assert [j.verdict for j in js] == [Verdict.RUNNING, Verdict.RUNNING, Verdict.PASS]
    assert js[-1].reason == "count_reached"


def test_count_ends_the_analysis_and_later_measurements_do_not_matter():
    rows = [OK, OK, OK, BAD, BAD]
    assert [j.verdict for j in verdicts(cfg(count=3), rows)][2:] == [Verdict.PASS] * 3


def test_errors_do_not_count_towards_count():
    js = verdicts(cfg(count=2), [OK, EMPTY, OK])
    assert [j.verdict for j in js] == [Verdict.RUNNING, Verdict.RUNNING, Verdict.PASS]
    assert js[-1].measurements["metrics"]["error_rate"]["error"] == 1


def test_consecutive_error_limit_errors_on_one_more_than_the_limit():
    js = verdicts(cfg(consecutive_error_limit=2), [OK, EMPTY, EMPTY, EMPTY])
    assert [j.verdict for j in js] == [Verdict.RUNNING] * 3 + [Verdict.ERROR]
    assert js[-1].reason == "consecutive_error_limit_exceeded"


def test_a_measurement_that_is_not_an_error_resets_the_streak():
    rows = [EMPTY, EMPTY, OK, EMPTY, EMPTY, BAD, EMPTY, EMPTY]
    js = verdicts(cfg(consecutive_error_limit=2, failure_limit=5), rows)
    assert all(j.verdict is Verdict.RUNNING for j in js)
    assert js[-1].measurements["metrics"]["error_rate"]["error"] == 6


def test_the_default_consecutive_error_limit_is_4():
    js = verdicts(cfg(), [EMPTY] * 5)
    assert [j.verdict for j in js] == [Verdict.RUNNING] * 4 + [Verdict.ERROR]


def test_a_gap_in_sampling_is_an_error_measurement():
    w = from_intervals([OK, OK])
    gap = Window((*w.times, 30.0), (*w.canary, w.canary[-1]), (*w.baseline, w.baseline[-1]))
    j = judge(cfg(consecutive_error_limit=3), gap)  # intervals 3..6 had no new sample
    assert j.verdict is Verdict.ERROR
    assert j.measurements["metrics"]["error_rate"]["consecutive_error"] == 4


# --- latency and inconclusive measurements ---------------------------------------------


def lat(fast, slow, over=0, requests=None):
    """A canary interval with ``fast`` responses under 5 ms, ``slow`` in 250-500 ms and
    ``over`` above the top bound (1 s)."""
    n = fast + slow + over if requests is None else requests
    return ((n, 0, [fast, 0, 0, 0, 0, 0, slow, 0, over]), (1000, 0, [1000, 0, 0, 0, 0, 0, 0, 0, 0]))


def lat_cfg(**kw):
    return cfg(max_error_rate=None, **kw)


def test_p99_above_the_limit_fails_and_below_succeeds():
    c = lat_cfg(max_p99_latency=0.3, count=2)
    assert judge(c, from_intervals([lat(100, 0)], bounds=BOUNDS)).verdict is Verdict.RUNNING
    j = judge(c, from_intervals([lat(100, 0), lat(90, 10)], bounds=BOUNDS))
    assert j.verdict is Verdict.FAIL
    (m,) = j.measurements["metrics"]["latency_p99"]["measurements"][-1:]
    assert m["phase"] == "failed" and m["value"] > 0.3


def test_a_p99_in_the_overflow_bucket_is_inconclusive_when_the_limit_is_above_the_top_bound():
    c = lat_cfg(max_p99_latency=2.0, inconclusive_limit=1)
    rows = [lat(95, 0, 5), lat(100, 0), lat(95, 0, 5)]
    js = [judge(c, from_intervals(rows[:k], bounds=BOUNDS)) for k in (1, 2, 3)]
    assert [j.verdict for j in js] == [Verdict.RUNNING, Verdict.RUNNING, Verdict.INCONCLUSIVE]
    assert js[-1].reason == "inconclusive_limit_exceeded"
    # with the limit below the top bound the same p99 is known to be above it: failed
    j = judge(lat_cfg(max_p99_latency=0.3), from_intervals(rows[:1], bounds=BOUNDS))
    assert j.verdict is Verdict.FAIL


def test_no_histogram_is_an_error_measurement():
    j = judge(lat_cfg(max_p99_latency=0.3), from_intervals([OK]))
    m = j.measurements["metrics"]["latency_p99"]
    assert m["error"] == 1 and m["measurements"][0]["phase"] == "error"


def test_the_worst_metric_wins_when_both_end_at_the_same_measurement():
    c = cfg(max_p99_latency=2.0)  # error rate fails; p99 inconclusive (overflow)
    rows = [((100, 5, [95, 0, 0, 0, 0, 0, 0, 0, 5]), (1000, 0, [1000] + [0] * 8))]
    j = judge(c, from_intervals(rows, bounds=BOUNDS))
    assert j.verdict is Verdict.FAIL
    phases = {m: v["phase"] for m, v in j.measurements["metrics"].items()}
    assert phases == {"error_rate": "failed", "latency_p99": "inconclusive"}


def test_an_earlier_inconclusive_ends_the_analysis_before_a_later_failure():
    c = cfg(max_p99_latency=2.0, failure_limit=0)
    inc = ((100, 0, [95, 0, 0, 0, 0, 0, 0, 0, 5]), (1000, 0, [1000] + [0] * 8))
    bad = ((100, 5, [100] + [0] * 8), (1000, 0, [1000] + [0] * 8))
    j = judge(c, from_intervals([inc, bad], bounds=BOUNDS))
    assert j.verdict is Verdict.INCONCLUSIVE
    assert j.measurements["measurements_taken"] == 1


# --- when measuring starts ----------------------------------------------------------------


def test_measuring_waits_for_min_requests_and_the_first_measurement_covers_the_start():
    c = AnalysisConfig(judge="thresholds", min_requests=50)
    rows = [((20, 1), (200, 0)), ((20, 0), (200, 0)), ((20, 0), (200, 0)), ((20, 0), (200, 0))]
    js = verdicts(c, rows)
    assert js[0].verdict is Verdict.NOT_ENOUGH_DATA and js[0].needed == 30
    assert js[1].verdict is Verdict.NOT_ENOUGH_DATA and js[1].needed == 10
    # 60 requests, 1 error (1.7% > 1%) in the first measurement: it covers all three intervals
    assert js[2].verdict is Verdict.FAIL
    first = js[2].measurements["metrics"]["error_rate"]["measurements"][0]
    assert first["requests"] == 60 and first["value"] == pytest.approx(1 / 60)


def test_nothing_to_check_is_an_error():
    j = judge(cfg(max_error_rate=None), from_intervals([OK]))
    assert j.verdict is Verdict.ERROR and j.reason == "no_metrics"


def test_assess_checks_in_argos_order():
    c = AnalysisConfig(failure_limit=0, inconclusive_limit=0, consecutive_error_limit=0, count=1)
    st = MetricState("error_rate", failed=1, inconclusive=1, consecutive_error=1, count=5)
    assert assess(st, c) is Phase.FAILED
    st.failed = 0
    assert assess(st, c) is Phase.INCONCLUSIVE
    st.inconclusive = 0
    assert assess(st, c) is Phase.ERROR
    st.consecutive_error = 0
    assert assess(st, c) is Phase.SUCCESSFUL
    assert assess(MetricState("error_rate"), AnalysisConfig()) is Phase.RUNNING  # no count
