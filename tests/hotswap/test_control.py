"""The control socket of ``turnout run`` while generation 1 starts.

The app answers ``/healthz`` before the supervisor's own ``rise`` checks have passed.
A client that reloads as soon as the app answers (a deploy script, a test) must reach
the supervisor: the control socket is open before generation 1 starts, and a command
sent meanwhile is answered once the start is over."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from support.hotswap import SERVERS, Supervised, launch_supervisor, release_folder
from turnout.hotswap.supervisor import request

pytestmark = pytest.mark.slow

NEVER_LISTENS = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def launched() -> Iterator[list[Supervised]]:
    started: list[Supervised] = []
    yield started
    for sup in started:
        sup.stop()


def wait_for(
    condition: Callable[[], bool], what: str, sup: Supervised, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert sup.process.poll() is None, f"turnout run exited before {what}:\n{sup.output()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout}s:\n{sup.output()}"
        time.sleep(0.005)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(120)
def test_a_reload_sent_as_soon_as_the_app_answers_reaches_the_supervisor(launched, tmp_path):
    v1 = release_folder(tmp_path / "releases", "v1")
    v2 = release_folder(tmp_path / "releases", "v2")
    sup = launch_supervisor(tmp_path, SERVERS["uvicorn"], v1, start_timeout="20s")
    launched.append(sup)
    wait_for(lambda: answers(f"http://{sup.address}/healthz"), "answer on /healthz", sup)
    # At once: the supervisor has not finished its own checks of generation 1 yet.
    answer = request(sup.state_dir / "app.sock", {"cmd": "reload", "workdir": str(v2)}, 60)
    assert answer["ok"] and answer["generation"] == 2, (answer, sup.output()[-3000:])
    assert httpx.get(f"http://{sup.address}/healthz", timeout=5).headers["x-release"] == "v2"


@pytest.mark.timeout(60)
def test_a_command_sent_during_a_start_that_fails_is_refused_with_the_reason(launched, tmp_path):
    sup = launch_supervisor(tmp_path, NEVER_LISTENS, tmp_path, start_timeout="2s")
    launched.append(sup)
    control = sup.state_dir / "app.sock"
    wait_for(control.exists, "control socket", sup)
    answer = request(control, {"cmd": "status"}, 30)
    assert answer["ok"] is False
    assert (
        "the app did not start" in answer["reason"]
        and "not healthy within 2s" in (answer["reason"])
    )
    assert sup.process.wait(10) == 1
    assert not control.exists()


@pytest.mark.timeout(60)
def test_a_stop_during_the_start_ends_it_and_says_which_signal(launched, tmp_path):
    sup = launch_supervisor(tmp_path, NEVER_LISTENS, tmp_path, start_timeout="30s")
    launched.append(sup)
    wait_for(lambda: "generation 1 started" in sup.output(), "generation 1", sup)
    pid = int(sup.output().split("generation 1 started: pid ")[1].split()[0])
    started = time.monotonic()
    sup.process.send_signal(signal.SIGTERM)
    sup.process.wait(15)
    assert time.monotonic() - started < 10  # not the 30 s start timeout
    assert "received SIGTERM (signal 15): stopping" in sup.output()
    assert not Path(f"/proc/{pid}").exists()  # generation 1 stopped with it, no orphan
    assert not (sup.state_dir / "app.sock").exists()
