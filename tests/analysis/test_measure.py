"""Per-interval measurements from cumulative counters: deltas, resets, boundaries, histograms."""

from __future__ import annotations

import pytest

from turnout.core.analysis.measure import (
    Usage,
    boundaries,
    in_overflow,
    intervals,
    latency_mean,
    latency_quantile,
    metric_value,
    running_requests,
    total,
    usage,
)
from turnout.core.analysis.model import Counts, Window

B = (0.1, 0.2, 0.5)


def test_usage_is_the_difference_of_two_samples():
    u = usage(Counts(10, 1, (5, 3, 2, 0), B), Counts(30, 4, (12, 9, 7, 2), B))
    assert u == Usage(20, 3, (7, 6, 5, 2), B)


def test_a_counter_that_went_down_was_reset_and_counts_from_zero():
    # the router restarted between the samples: it served 7 requests since
    assert usage(Counts(500, 9), Counts(7, 1)) == Usage(7, 1)
    # a histogram bucket going down is a reset too, for every counter of the release
    assert usage(Counts(10, 0, (5, 5, 0, 0), B), Counts(12, 0, (2, 9, 1, 0), B)).requests == 12


def test_total_sums_step_by_step_so_a_reset_in_between_loses_nothing():
    samples = [Counts(100, 1), Counts(150, 2), Counts(20, 0), Counts(50, 3)]
    assert total(samples) == Usage(50 + 20 + 30, 1 + 0 + 3)
    assert running_requests(samples) == [0, 50, 70, 100]


def test_boundaries_take_the_first_sample_at_or_after_each_interval_end():
    times = (0.0, 1.0, 2.1, 4.9, 5.2, 6.0, 9.999_999_9, 13.0)
    # 5 -> sample at 5.2; 10 -> 9.9999999 is within the slack; a gap over 15 is not yet due
    assert boundaries(times, 5.0) == [4, 6]


def test_a_gap_in_sampling_gives_empty_intervals():
    times = (0.0, 5.0, 17.0)
    assert boundaries(times, 5.0) == [1, 2, 2]  # intervals 2 and 3 close at the same sample
    w = Window(times, (Counts(0, 0), Counts(10, 0), Counts(40, 2)), (Counts(0, 0),) * 3)
    got = [(iv.index, iv.canary.requests) for iv in intervals(w, 5.0)]
    assert got == [(1, 10), (2, 30), (3, 0)]


def test_the_first_interval_can_be_delayed_and_then_covers_everything_since_the_start():
    times = tuple(float(t) for t in range(0, 16, 5))
    canary = tuple(Counts(n, 0) for n in (0, 20, 45, 70))
    w = Window(times, canary, (Counts(0, 0),) * 4)
    got = [(iv.index, iv.time, iv.canary.requests) for iv in intervals(w, 5.0, first_end=2)]
    assert got == [(1, 10.0, 45), (2, 15.0, 25)]


def test_quantiles_interpolate_inside_their_bucket_like_histogram_quantile():
    u = Usage(100, 0, (50, 30, 20, 0), B)
    assert latency_quantile(u, 0.5) == pytest.approx(0.1)  # rank 50: top of bucket 1
    assert latency_quantile(u, 0.65) == pytest.approx(0.1 + 0.1 * 15 / 30)
    assert latency_quantile(u, 0.99) == pytest.approx(0.2 + 0.3 * 19 / 20)
    assert latency_quantile(u, 0.25) == pytest.approx(0.1 * 25 / 50)  # first bucket from 0


def test_a_quantile_in_the_overflow_bucket_is_the_top_bound_and_flagged():
    u = Usage(100, 0, (90, 5, 3, 2), B)
    assert latency_quantile(u, 0.99) == 0.5
    assert in_overflow(u, 0.99) and not in_overflow(u, 0.95)


def test_mean_from_bucket_midpoints():
    u = Usage(4, 0, (2, 1, 0, 1), B)
    assert latency_mean(u) == pytest.approx((2 * 0.05 + 0.15 + 0.5) / 4)


def test_metrics_without_data_are_none():
    assert metric_value("error_rate", Usage(0, 0)) is None
    assert metric_value("latency_p99", Usage(10, 1)) is None  # no histogram
    assert metric_value("latency_p50", Usage(10, 1, (0, 0, 0, 0), B)) is None
    assert metric_value("error_rate", Usage(8, 2)) == 0.25
    with pytest.raises(ValueError, match="unknown metric"):
        metric_value("cpu", Usage(1, 0))
