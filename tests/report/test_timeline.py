"""Timelines from router samples and from load outcomes, and their rendering."""

from __future__ import annotations

from turnout.harness.accounting import Client, Kind, Outcome
from turnout.report.render import render_html, render_png
from turnout.report.timeline import Marker, from_load, from_samples, markers, quantile_from_hist

BOUNDS = [0.001, 0.01, 0.1, 1.0]


def sample(at, pools):
    return {"at": at, "bounds": BOUNDS, "pools": pools}


def pool(codes, hist):
    return {"codes": codes, "hist": hist, "sum": 0.0, "errors": {}, "retries": 0, "in_flight": 0}


def test_quantile_from_histogram_is_the_bucket_bound():
    assert quantile_from_hist([90, 9, 1, 0, 0], BOUNDS, 0.99) == 0.01
    assert quantile_from_hist([90, 9, 0, 1, 0], BOUNDS, 0.995) == 1.0
    assert quantile_from_hist([0, 0, 0, 0, 5], BOUNDS, 0.99) == 2.0  # beyond the last bound
    assert quantile_from_hist([0] * 5, BOUNDS, 0.99) is None


def test_samples_become_rates_per_release_with_failures_and_p99():
    samples = [
        sample(100.0, {"v1": pool([0, 0, 0, 0, 0], [0, 0, 0, 0, 0])}),
        sample(101.0, {"v1": pool([0, 100, 0, 0, 0], [98, 2, 0, 0, 0])}),
        sample(102.0, {"v1": pool([0, 150, 0, 0, 0], [146, 4, 0, 0, 0]),
                       "v2": pool([0, 40, 0, 0, 10], [10, 10, 25, 5, 0])}),
    ]  # fmt: skip
    t = from_samples(samples, [], "deploy #2")
    assert [b.start for b in t.buckets] == [0.0, 1.0]
    assert t.buckets[0].ok == {"v1": 100} and t.buckets[0].failed == 0
    assert t.buckets[0].p99_ms == 10.0
    assert t.buckets[1].ok == {"v1": 50, "v2": 40} and t.buckets[1].failed == 10
    assert t.buckets[1].p99_ms == 1000.0
    assert t.releases == ["v1", "v2"]


def test_journal_events_become_markers():
    events = [
        {"at": 10.5, "event": "begin", "message": "route v2=100", "phase": "deploy", "step": 3},
        {"at": 10.6, "event": "end", "message": "route v2=100", "phase": "deploy", "step": 3},
        {"at": 11.0, "event": "fail", "message": "v2 failed", "phase": "deploy", "step": 4},
        {"at": 11.2, "event": "end", "message": "route v1=100", "phase": "rollback", "step": 0},
        {"at": 12.0, "event": "info", "message": "rolled back", "phase": "rollback", "step": 4},
    ]
    got = markers(events, 10.0)
    assert [(m.label, m.kind) for m in got] == [
        ("route v2=100", "switch"),
        ("v2 failed", "fail"),
        ("route v1=100", "rollback"),
        ("rolled back", "done"),
    ]
    assert [round(m.at, 3) for m in got] == [0.6, 1.0, 1.2, 2.0]


def outcome(end, ok=True, release="v1", latency=0.002):
    kind = Kind.OK if ok else Kind.REFUSED
    return Outcome(Client.KEEPALIVE, kind, end - latency, end, release if ok else None)


def test_load_outcomes_become_buckets_by_end_time():
    outs = [outcome(0.2), outcome(0.4), outcome(1.1, release="v2"), outcome(1.5, ok=False)]
    t = from_load(outs, 1.0, "verify", 1000.0)
    assert [(b.ok, b.failed) for b in t.buckets] == [({"v1": 2}, 0), ({"v2": 1}, 1)]
    assert t.source == "clients" and t.started_at == 1000.0


def test_render_png_and_html():
    outs = [outcome(i / 10, release="v1" if i < 30 else "v2") for i in range(60)]
    t = from_load(outs, 0.5, "a <switch>", 0.0, [Marker(3.0, "switch to v2", "switch")],
                  [("requests", "60")])  # fmt: skip
    png = render_png(t)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    page = render_html(t, png)
    assert "<title>a &lt;switch&gt;</title>" in page
    assert "<th>requests</th><td>60</td>" in page
    assert "switch to v2" in page and "data:image/png;base64," in page
