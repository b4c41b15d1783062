"""Every way a request can fail is counted, as the right kind, against real servers."""

from __future__ import annotations

from typing import Any

from support.system import free_port
from turnout.harness import (
    Kind,
    LoadRunner,
    LoadSpec,
    Mix,
    PostClients,
    Report,
    Stage,
    StreamClients,
)

from . import misbehaving


def _run(port: int, mix: Mix, requests: int = 6, **spec: Any) -> Report:
    settings: dict[str, Any] = {"duration_s": 10, "failure_pause_s": 0, "request_timeout_s": 2}
    settings.update(spec)
    load = LoadSpec(port=port, max_requests=requests, mix=mix, **settings)
    return LoadRunner(load).start().wait(timeout=20)


def _only(report: Report, kind: Kind, count: int = 6) -> None:
    assert (report.sent, report.ok, report.failed) == (count, 0, count), report.text()
    assert report.failed_by_kind == {kind.value: count}


def test_refused() -> None:
    report = _run(free_port(), Mix(keepalive=1, newconn=1))
    _only(report, Kind.REFUSED)
    assert {o.stage for o in report.outcomes} == {Stage.CONNECT}
    assert report.failures[0].detail == "connect failed: ECONNREFUSED"


def test_502_is_http_5xx_with_its_release() -> None:
    with misbehaving.serve(misbehaving.answer_502) as port:
        report = _run(port, Mix(keepalive=1, newconn=1, websocket=1))
    _only(report, Kind.HTTP_5XX)
    assert {o.status for o in report.outcomes} == {502}
    assert {o.release for o in report.outcomes if o.client != "websocket"} == {"v1"}


def test_404_is_an_unexpected_status() -> None:
    with misbehaving.serve(misbehaving.answer_404) as port:
        report = _run(port, Mix(keepalive=1))
    _only(report, Kind.UNEXPECTED_STATUS)


def test_reset_before_the_response() -> None:
    with misbehaving.serve(misbehaving.reset_before_response) as port:
        report = _run(port, Mix(keepalive=1, post=1))
    _only(report, Kind.RESET_BEFORE_RESPONSE)
    assert {o.stage for o in report.outcomes} == {Stage.HEAD}


def test_reset_mid_response() -> None:
    with misbehaving.serve(misbehaving.reset_mid_body) as port:
        report = _run(port, Mix(keepalive=1))
    _only(report, Kind.RESET_MID_RESPONSE)
    assert {o.stage for o in report.outcomes} == {Stage.BODY}
    assert {o.status for o in report.outcomes} == {200}


def test_timeout_of_a_hung_server() -> None:
    with misbehaving.serve(misbehaving.hang) as port:
        report = _run(port, Mix(keepalive=2), requests=2, request_timeout_s=0.3)
    _only(report, Kind.TIMEOUT, count=2)
    assert all(0.3 <= o.latency < 1.5 for o in report.outcomes)
    assert report.failures[0].detail == "no complete response head in time"


def test_truncated_stream_is_a_bad_body() -> None:
    mix = Mix(stream=StreamClients(concurrency=1, chunks=4, interval_ms=0, chunk_bytes=100))
    with misbehaving.serve(misbehaving.truncated_stream) as port:
        report = _run(port, mix, requests=3)
    _only(report, Kind.BAD_BODY, count=3)
    assert report.failures[0].detail == "truncated: connection closed in body"


def test_wrong_echo_is_a_bad_body() -> None:
    post = PostClients(concurrency=1, body_bytes=1000, framing="content-length")
    with misbehaving.serve(misbehaving.wrong_echo) as port:
        report = _run(port, Mix(post=post))
    _only(report, Kind.BAD_BODY)
    assert report.failures[0].detail == "body differs from the expected bytes at offset 500"


def test_garbage_is_a_protocol_error() -> None:
    with misbehaving.serve(misbehaving.garbage) as port:
        report = _run(port, Mix(keepalive=1))
    _only(report, Kind.PROTOCOL)
    assert report.failures[0].detail.startswith("invalid HTTP response")


def test_switch_is_found_in_the_timeline() -> None:
    with misbehaving.serve(misbehaving.switching(after_s=0.6)) as port:
        spec = LoadSpec(port=port, duration_s=1.2, bucket_s=0.2, mix=Mix(keepalive=2))
        report = LoadRunner(spec).start().wait(timeout=10)
    assert report.failed == 0
    switch = report.summary.switch
    assert switch is not None and (switch.from_release, switch.to_release) == ("v1", "v2")
    assert 0.4 <= switch.at <= 0.8
    assert 0.3 < report.share("v2") < 0.7
    assert report.summary.first_seen["v2"] >= report.summary.last_seen["v1"]
