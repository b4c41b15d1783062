"""The accounting, with plain values: what a run's outcomes add up to."""

from __future__ import annotations

import json

import pytest

from turnout.harness.accounting import (
    Bucket,
    Client,
    Gap,
    Kind,
    Outcome,
    Stage,
    Switch,
    find_switch,
    longest_gap,
    percentile,
    summarize,
    timeline,
)


def ok(end: float, release: str | None = "v1", latency: float = 0.01, **kw: object) -> Outcome:
    return Outcome(Client.KEEPALIVE, Kind.OK, end - latency, end, release, 200, **kw)


def failed(end: float, kind: Kind, stage: Stage = Stage.HEAD, detail: str = "") -> Outcome:
    return Outcome(Client.KEEPALIVE, kind, end - 0.01, end, None, None, stage, False, detail)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_counts_by_kind_and_first_failures_in_time_order() -> None:
    outcomes = [
        ok(0.1),
        failed(0.5, Kind.REFUSED, Stage.CONNECT),
        failed(0.2, Kind.RESET_MID_RESPONSE, Stage.BODY, "reset in body"),
        failed(0.3, Kind.HTTP_5XX, Stage.DONE),
        failed(0.4, Kind.HTTP_5XX, Stage.DONE),
        ok(0.6),
    ]
    summary = summarize(outcomes, duration=1.0, first_failures=3)
    assert (summary.sent, summary.ok, summary.failed) == (6, 2, 4)
    assert summary.failed_by_kind == {"http_5xx": 2, "refused": 1, "reset_mid_response": 1}
    assert [o.end for o in summary.first_failures] == [0.2, 0.3, 0.4]
    assert summary.first_failures[0].detail == "reset in body"


def test_latency_leaves_out_slow_and_stream_requests() -> None:
    quick = [Outcome(Client.POST, Kind.OK, 0.0, 0.002 * i) for i in range(1, 101)]
    slow = Outcome(Client.SLOW, Kind.OK, 0.0, 1.5)
    summary = summarize([*quick, slow], duration=2.0)
    assert summary.latency is not None
    assert (summary.latency.count, summary.latency.p50, summary.latency.max) == (100, 100.0, 200.0)
    assert summary.by_client["slow"].latency is not None
    assert summary.by_client["slow"].latency.p50 == 1500.0


def test_release_shares_and_conversions() -> None:
    outcomes = [ok(0.1, "v1"), ok(0.2, "v1", converted=True), ok(0.3, "v2"), ok(0.4, None)]
    summary = summarize(outcomes, duration=1.0)
    assert summary.ok_by_release == {"unknown": 1, "v1": 2, "v2": 1}
    assert summary.share("v1") == 0.5
    assert summary.conversions_by_release == {"v1": 1}


def test_timeline_buckets_by_end_time() -> None:
    outcomes = [ok(0.1), ok(0.9, "v2"), ok(1.2, "v2"), failed(1.5, Kind.TIMEOUT), ok(9.0)]
    buckets = timeline(outcomes, duration=2.0, width=1.0)
    assert buckets == (
        Bucket(0.0, 1.0, {"v1": 1, "v2": 1}, 0),
        Bucket(1.0, 1.0, {"v1": 1, "v2": 1}, 1),  # 9.0 ended after the window: last bucket
    )
    assert buckets[0].share("v2") == 0.5
    assert buckets[0].majority() is None


def test_switch_is_the_first_change_of_majority() -> None:
    buckets = [
        Bucket(0.0, 1.0, {"v1": 10}, 0),
        Bucket(1.0, 1.0, {"v1": 5, "v2": 5}, 0),  # a tie decides nothing
        Bucket(2.0, 1.0, {}, 3),
        Bucket(3.0, 1.0, {"v1": 2, "v2": 8}, 0),
        Bucket(4.0, 1.0, {"v1": 9, "v2": 1}, 0),
    ]
    assert find_switch(buckets) == Switch(3.0, "v1", "v2")
    assert find_switch(buckets[:3]) is None


def test_longest_gap_covers_the_whole_window() -> None:
    outcomes = [ok(0.2), ok(0.3), failed(0.5, Kind.REFUSED), ok(1.4), ok(1.5)]
    assert longest_gap(outcomes) == Gap(0.3, 1.4)
    assert longest_gap(outcomes, window=4.0) == Gap(1.5, 4.0)  # nothing after 1.5
    assert longest_gap([failed(1.0, Kind.REFUSED)], window=2.0) is None


def test_outcome_json_form() -> None:
    outcome = failed(0.25, Kind.RESET_BEFORE_RESPONSE, Stage.HEAD, "connection reset")
    assert json.loads(json.dumps(outcome.to_dict())) == {
        "client": "keepalive",
        "kind": "reset_before_response",
        "stage": "head",
        "start": 0.24,
        "end": 0.25,
        "release": None,
        "status": None,
        "converted": False,
        "detail": "connection reset",
    }
    assert Kind.RESET_MID_RESPONSE.is_reset and not Kind.TIMEOUT.is_reset
