"""The fault switches of the demo app and its drain on SIGTERM, on real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from support.apps import DemoProcess, wait_until_ready
from support.system import free_port

Factory = Callable[..., DemoProcess]


def _get(demo: DemoProcess, path: str = "/", timeout: float = 10) -> httpx.Response:
    return httpx.get(demo.url + path, timeout=timeout, trust_env=False)


def test_error_rate_answers_that_fraction_with_500(demo_factory: Factory) -> None:
    demo = demo_factory("--error-rate", "0.3", "--seed", "1", release="v3-bad")
    with httpx.Client(base_url=demo.url, trust_env=False) as client:
        responses = [client.get("/") for _ in range(300)]
    errors = [r for r in responses if r.status_code == 500]
    assert 60 < len(errors) < 120
    assert {r.status_code for r in responses} == {200, 500}
    assert all(r.headers["x-release"] == "v3-bad" for r in responses)
    assert errors[0].text == "shop v3-bad: injected error\n"


def test_crash_at_start_exits_1_without_listening(demo_factory: Factory) -> None:
    demo = demo_factory("--crash-at-start", wait="none")
    assert demo.wait(10) == 1
    assert "crashing at start" in demo.output()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((demo.host, demo.port), timeout=1).close()


def test_never_healthy_serves_but_fails_health(demo_factory: Factory) -> None:
    demo = demo_factory("--never-healthy", wait="listening")
    assert _get(demo, "/healthz").status_code == 503
    assert _get(demo, "/healthz").text == "unhealthy\n"
    assert _get(demo).status_code == 200


def test_start_delay_postpones_listening(demo_factory: Factory) -> None:
    began = time.monotonic()
    demo_factory("--start-delay-ms", "800", wait="listening")
    assert time.monotonic() - began >= 0.8


def test_crash_after_requests_dies_on_the_next_one(demo_factory: Factory) -> None:
    demo = demo_factory("--crash-after-requests", "3")  # the readiness probes are not counted
    with httpx.Client(base_url=demo.url, trust_env=False) as client:
        assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]
        assert client.get("/healthz").status_code == 200
        with pytest.raises(httpx.TransportError):
            client.get("/")
    assert demo.wait(5) == 70


def test_latency_is_added_to_home_only(demo_factory: Factory) -> None:
    demo = demo_factory("--latency-ms", "250")
    began = time.monotonic()
    assert _get(demo).status_code == 200
    assert time.monotonic() - began >= 0.25
    began = time.monotonic()
    _get(demo, "/healthz")
    assert time.monotonic() - began < 0.2


@pytest.mark.slow
def test_sigterm_drains(demo_factory: Factory) -> None:
    demo = demo_factory("--drain-ms", "700")
    slow: list[httpx.Response] = []
    request = threading.Thread(target=lambda: slow.append(_get(demo, "/slow?ms=1500")))
    request.start()
    time.sleep(0.2)  # the slow request is in flight
    demo.terminate()
    time.sleep(0.1)
    health = _get(demo, "/healthz")
    assert health.status_code == 503 and health.text == "draining\n"
    assert health.headers["connection"] == "close"
    home = _get(demo)  # still served while draining, but asks the client to go
    assert home.status_code == 200 and home.headers["connection"] == "close"
    time.sleep(0.8)  # past the drain period: the listener is closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((demo.host, demo.port), timeout=1).close()
    assert demo.alive  # the slow request still runs
    request.join(5)
    assert slow[0].status_code == 200
    assert demo.wait(5) == 0


def test_second_sigterm_stops_at_once(demo_factory: Factory) -> None:
    demo = demo_factory("--drain-ms", "30000")
    demo.terminate()
    time.sleep(0.2)
    assert _get(demo, "/healthz").status_code == 503
    demo.terminate()
    demo.wait(5)
    assert not demo.alive


def test_port_env_is_used_without_the_flag() -> None:
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "turnout.demo.app", "--release", "v7"],
        env={**os.environ, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    demo = DemoProcess(process, "127.0.0.1", port, "v7", log)
    try:
        wait_until_ready(demo)
        assert _get(demo).headers["x-release"] == "v7"
    finally:
        demo.stop()


def test_bad_flag_exits_2_with_the_reason() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.demo.app", "--port", "1", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "error: error_rate: 2.0: must be a fraction in 0..1\n"
