"""Load runs against the real demo app: clean runs count nothing, real faults are counted."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from support.apps import DemoProcess
from turnout.harness import (
    LoadRunner,
    LoadSpec,
    Mix,
    PostClients,
    SlowClients,
    StreamClients,
    WebSocketClients,
    run_load,
)

Demo = Callable[..., DemoProcess]
Runner = Callable[[LoadSpec], LoadRunner]

QUICK_MIX = Mix(
    keepalive=2,
    newconn=1,
    post=PostClients(concurrency=1, body_bytes=20_000),
    slow=SlowClients(concurrency=1, min_ms=200, max_ms=400),
    stream=StreamClients(concurrency=1, chunks=10, interval_ms=20, chunk_bytes=3000),
    websocket=WebSocketClients(concurrency=1, messages_per_session=10, interval_ms=5),
)


@pytest.mark.slow
def test_mixed_run_against_the_demo_app_has_no_failures(
    demo_factory: Demo, load_runner: Runner
) -> None:
    demo = demo_factory("--conversion-rate", "0.5", release="v2")
    load = load_runner(LoadSpec(port=demo.port, duration_s=30, mix=QUICK_MIX))
    load.wait_for_ok(100)
    time.sleep(1.5)
    report = load.stop()
    assert report.failed == 0, report.text()
    assert report.ok == report.sent > 300
    assert set(report.summary.by_client) == {
        "keepalive",
        "newconn",
        "post",
        "slow",
        "stream",
        "websocket",
    }
    assert all(stats.ok > 0 for stats in report.summary.by_client.values())
    assert report.summary.ok_by_release == {"v2": report.ok}
    assert report.share("v2") == 1.0
    conversions = report.summary.conversions_by_release["v2"]
    home = report.summary.by_client["keepalive"].ok + report.summary.by_client["newconn"].ok
    assert 0.35 * home < conversions < 0.65 * home
    assert report.summary.switch is None
    assert report.duration_s < 3 and report.total_s >= report.duration_s


def test_injected_errors_are_counted_as_5xx(demo_factory: Demo) -> None:
    demo = demo_factory("--error-rate", "0.2", "--seed", "9", release="v3-bad")
    spec = LoadSpec(port=demo.port, max_requests=1000, mix=Mix(keepalive=2), failure_pause_s=0)
    report = LoadRunner(spec).start().wait(timeout=30)
    assert report.sent == 1000
    assert report.failed_by_kind.keys() == {"http_5xx"}
    assert 150 < report.failed < 250
    assert {o.release for o in report.outcomes} == {"v3-bad"}


def test_max_requests_is_exact(demo_app: DemoProcess) -> None:
    spec = LoadSpec(port=demo_app.port, max_requests=137, mix=Mix(keepalive=4, post=2, newconn=1))
    report = LoadRunner(spec).start().wait(timeout=30)
    assert (report.sent, report.ok) == (137, 137)


@pytest.mark.slow
def test_kill_9_mid_run_is_counted(demo_factory: Demo, load_runner: Runner) -> None:
    demo = demo_factory()
    load = load_runner(
        LoadSpec(port=demo.port, duration_s=30, mix=Mix(keepalive=2, newconn=1, post=1))
    )
    load.wait_for_ok(200)
    demo.kill()
    demo.wait(5)
    time.sleep(0.5)
    report = load.stop()
    assert report.failed > 0
    # A killed process's sockets end with a FIN (or an RST if unread data was left):
    # a response cut by the kill is a reset or a truncated body, nothing else.
    assert {(o.kind, o.detail.split(":")[0]) for o in report.outcomes if not o.ok} <= {
        ("refused", "connect failed"),
        # a connect caught in the listener's queue as the process dies is reset
        ("reset_before_response", "reset while connecting"),
        ("reset_before_response", "connection closed before response"),
        ("reset_before_response", "connection reset before response"),
        ("reset_mid_response", "connection reset in body"),
        ("reset_mid_response", "connection closed in response head"),
        ("reset_mid_response", "connection reset in response head"),
        ("bad_body", "truncated"),
    }
    assert report.failed_by_kind["refused"] > 0
    gap = report.summary.longest_gap
    assert gap is not None and gap.seconds >= 0.5 and gap.end == report.duration_s


def test_stop_lets_requests_in_flight_finish(demo_app: DemoProcess) -> None:
    mix = Mix(slow=SlowClients(concurrency=2, min_ms=700, max_ms=700))
    with LoadRunner(LoadSpec(port=demo_app.port, mix=mix)) as load:
        time.sleep(0.2)
    report = load.report
    assert (report.sent, report.ok) == (2, 2)
    assert report.duration_s < 0.5 and report.total_s >= 0.7


def test_requests_still_running_after_the_drain_timeout_are_cut_off(
    demo_app: DemoProcess,
) -> None:
    mix = Mix(slow=SlowClients(concurrency=1, min_ms=3000, max_ms=3000))
    spec = LoadSpec(port=demo_app.port, mix=mix, drain_timeout_s=0.2)
    with LoadRunner(spec) as load:
        time.sleep(0.1)
    report = load.report
    assert report.failed_by_kind == {"timeout": 1}
    assert report.failures[0].detail == "still in flight when the run stopped"
    assert report.total_s < 1.5


def test_async_api_inside_a_running_loop(demo_app: DemoProcess) -> None:
    async def main() -> tuple[int, int]:
        stop = asyncio.Event()
        spec = LoadSpec(port=demo_app.port, mix=Mix(keepalive=2))
        task = asyncio.create_task(run_load(spec, stop=stop))
        await asyncio.sleep(0.3)
        stop.set()
        report = await task
        return report.ok, report.failed

    ok, failed = asyncio.run(main())
    assert ok > 50 and failed == 0


def test_report_json_and_text(demo_app: DemoProcess) -> None:
    spec = LoadSpec(port=demo_app.port, max_requests=50, mix=Mix(keepalive=1))
    report = LoadRunner(spec).start().wait(timeout=20)
    document = json.loads(report.to_json())
    assert (document["sent"], document["ok"], document["failed"]) == (50, 50, 0)
    assert document["ok_by_release"] == {"v1": 50}
    assert document["spec"]["port"] == demo_app.port
    assert "outcomes" not in document
    assert len(json.loads(report.to_json(outcomes=True))["outcomes"]) == 50
    text = report.text()
    assert text.startswith("50 requests in ")
    assert "50 ok, no failures" in text and "releases: v1 100.0%" in text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_targets_are_allowed(host: str) -> None:
    assert LoadSpec(host=host, port=80).host == host


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "0.0.0.0"])
def test_other_targets_need_allow_remote(host: str) -> None:
    with pytest.raises(ValidationError, match="is not loopback"):
        LoadSpec(host=host, port=80)
    assert LoadSpec(host=host, port=80, allow_remote=True).allow_remote


def test_runs_are_bounded() -> None:
    with pytest.raises(ValidationError, match="duration_s"):
        LoadSpec(port=80, duration_s=3601)
    with pytest.raises(ValidationError, match="max_requests"):
        LoadSpec(port=80, max_requests=10_000_001)
    assert LoadSpec(port=80, duration_s=None, max_requests=5).time_limit_s == 3600
    with pytest.raises(ValidationError, match="the mix has no clients"):
        LoadSpec(port=80, mix=Mix())
    with pytest.raises(ValidationError, match="min_ms"):
        SlowClients(min_ms=500, max_ms=100)
