"""The demo app's pure parts: content, routes, release values, flag parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.demo import routes
from turnout.demo.content import pattern
from turnout.demo.options import parse_args
from turnout.demo.release import DemoRelease
from turnout.demo.state import DemoState
from turnout.errors import UserError


def test_pattern_is_one_text_sliced_anywhere() -> None:
    whole = pattern(0, 300_000)  # crosses several cached pages
    assert whole[:32] == b"000000000000000\n000000000000001\n"
    for start, length in [(0, 0), (5, 17), (65_530, 20), (131_000, 100_000)]:
        assert pattern(start, length) == whole[start : start + length]


def test_pattern_changes_when_a_byte_is_lost() -> None:
    body = pattern(0, 4096)
    assert body[:100] + body[101:4096] != pattern(0, 4095)


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/", routes.Home()),
        ("HEAD", "/", routes.Home()),
        ("GET", "/healthz", routes.Health()),
        ("GET", "/slow?ms=250", routes.Slow(250)),
        ("GET", "/slow", routes.Slow(1500)),
        ("GET", "/stream?chunks=3&interval_ms=5&size=7", routes.Stream(3, 5, 7)),
        ("GET", "/bytes?n=10", routes.Bytes(10)),
        ("POST", "/echo", routes.Echo()),
        ("PUT", "/echo", routes.Echo()),
        ("GET", "/echo", routes.MethodNotAllowed("POST, PUT")),
        ("POST", "/", routes.MethodNotAllowed("GET, HEAD")),
        ("GET", "/headers", routes.Headers()),
        ("GET", "/status/418", routes.Status(418)),
        ("GET", "/ws", routes.WebSocket()),
        ("GET", "/nope", routes.NotFound()),
        ("DELETE", "/nope", routes.NotFound()),
    ],
)
def test_match(method: str, target: str, expected: routes.Endpoint) -> None:
    path, _, query = target.partition("?")
    assert routes.match(method, path, query) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/slow?ms=abc", "ms must be an integer in 0..60000, got 'abc'"),
        ("/slow?ms=-1", "ms must be an integer in 0..60000, got '-1'"),
        ("/bytes", "n is required (an integer in 0..268435456)"),
        ("/stream?size=0", "size must be an integer in 1..1048576, got '0'"),
        ("/status/99", "status must be an integer in 200..599, got '99'"),
        ("/status/abc", "status must be an integer in 200..599, got 'abc'"),
    ],
)
def test_bad_parameters_are_named(target: str, message: str) -> None:
    path, _, query = target.partition("?")
    assert routes.match("GET", path, query) == routes.BadRequest(message)


def test_release_rejects_bad_values() -> None:
    with pytest.raises(UserError, match=r"error_rate: 1\.5: must be a fraction in 0\.\.1"):
        DemoRelease(error_rate=1.5)
    with pytest.raises(UserError, match="version: 'v 2'"):
        DemoRelease(version="v 2")


def test_seeded_draws_repeat_and_match_the_rate() -> None:
    release = DemoRelease(error_rate=0.25, conversion_rate=0.5, seed=7)
    state_a, state_b = DemoState(release), DemoState(release)
    draws_a = [state_a.draw_home() for _ in range(4000)]
    draws_b = [state_b.draw_home() for _ in range(4000)]
    assert draws_a == draws_b
    errors = sum(status == 500 for status, _ in draws_a) / 4000
    conversions = sum(converted for _, converted in draws_a) / 4000
    assert 0.22 < errors < 0.28
    assert 0.46 < conversions < 0.54


def test_crash_after_requests_admits_exactly_n() -> None:
    state = DemoState(DemoRelease(crash_after_requests=3))
    assert [state.admit() for _ in range(5)] == [True, True, True, False, False]


def test_flags_override_the_release_file(tmp_path: Path) -> None:
    file = tmp_path / "release.toml"
    file.write_text('version = "v3-bad"\nerror_rate = 0.05\nlatency_ms = 150\n')
    release, options = parse_args(["--port", "9001", "--latency-ms", "5"], release_file=file)
    assert (release.version, release.error_rate, release.latency_ms) == ("v3-bad", 0.05, 5)
    assert (options.host, options.port) == ("127.0.0.1", 9001)


def test_port_comes_from_PORT_when_the_flag_is_absent() -> None:
    _, options = parse_args([], environ={"PORT": "9123"})
    assert options.port == 9123
    with pytest.raises(UserError, match="no port: pass --port N or set PORT"):
        parse_args([], environ={})


def test_unknown_release_file_key_is_named(tmp_path: Path) -> None:
    file = tmp_path / "release.toml"
    file.write_text("errror_rate = 0.1\n")
    with pytest.raises(UserError, match="unknown key 'errror_rate'; valid keys: name, version"):
        parse_args(["--port", "1"], release_file=file)


def test_bad_flag_is_a_user_error() -> None:
    with pytest.raises(UserError, match="--error-rate: invalid float value"):
        parse_args(["--port", "1", "--error-rate", "lots"])
