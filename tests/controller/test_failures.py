"""Acceptance: a bad release is rolled back automatically, with the reason, and the
load sees no failed request: it exits at start, never becomes healthy, answers 500
to the smoke check, or is killed -9 mid-deploy."""

from __future__ import annotations

import os
import signal
import time

import pytest

from .test_deploys import deploy, load_spec

pytestmark = pytest.mark.slow


def rolled_back(project, load, folder, reason, action=None):
    bg = project.turnout_bg("deploy", str(folder))
    if action is not None:
        action()
    code = bg.wait(90)
    out = bg.stdout.read().decode() if bg.stdout else ""
    report = load.stop()
    last = project.history()[0]
    assert code == 1, out
    assert last["status"] == "rolled_back" and last["reason"] == reason, last
    assert report.failed == 0, report.failures
    status = project.status()
    assert status["good"].startswith("r1-")
    assert {i["release"] for i in status["instances"]} == {status["good"]}
    assert status["traffic"]["split"] == {status["good"]: 100.0}
    return last, out


@pytest.fixture
def live_v1(project, load_runner):
    project.write_config(
        extra='[deploy.smoke]\nchecks = [ { path = "/", expect = "200" } ]\ntimeout = "5s"\n'
    )
    project.config.write_text(
        project.config.read_text().replace('timeout = "20s"', 'timeout = "4s"')
    )
    project.up()
    deploy(project, project.release("v1"))
    load = load_runner(load_spec(project))
    load.wait_for_ok(50, timeout=20)
    return load


def test_release_that_exits_at_start(project, live_v1):
    bad = project.release("v1", name="v2-crash", crash_at_start=True)
    last, _ = rolled_back(project, live_v1, bad, "exited")
    assert "exited with code 1" in last["message"]


def test_release_that_never_becomes_healthy(project, live_v1):
    bad = project.release("v1", name="v2-sick", never_healthy=True)
    last, _ = rolled_back(project, live_v1, bad, "not_healthy")
    assert "did not become healthy within 4s" in last["message"]
    assert "unhealthy" in last["message"] and "503" in last["message"]


def test_release_that_fails_the_smoke_check(project, live_v1):
    bad = project.release("v1", name="v2-500", error_rate=1.0)
    last, out = rolled_back(project, live_v1, bad, "smoke_failed")
    assert "GET / answered 500" in last["message"]
    assert "✗" in out


def test_release_killed_mid_deploy(project, live_v1):
    slow = project.release("v1", name="v2-slow", start_delay_ms=2500)

    def kill_a_new_instance() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            new = [i for i in project.status()["instances"] if not i["release"].startswith("r1-")]
            if new and all(i["pid"] for i in new):
                os.kill(new[0]["pid"], signal.SIGKILL)
                return
            time.sleep(0.1)
        raise AssertionError("no new instance appeared")

    last, _ = rolled_back(project, live_v1, slow, "exited", kill_a_new_instance)
    assert "code -9" in last["message"] or "exited" in last["message"]
