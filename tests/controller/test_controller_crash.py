"""Acceptance: the controller killed -9 at every step of a rolling and a blue/green
deploy. After a restart the deploy completes (or rolls back), instances are
re-adopted, no process is orphaned, and the load sees no failed request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .test_deploys import deploy, load_spec

pytestmark = pytest.mark.slow


def up_with_fault(project, fault: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TURNOUT_FAULT"}
    if fault:
        env["TURNOUT_FAULT"] = fault
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "up", "-c", str(project.config)],
        capture_output=True, text=True, timeout=60, env=env, cwd=project.root,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def wait_controller_dead(project, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = project.controller_pid()
        if pid is None or not os.path.exists(f"/proc/{pid}") or _zombie(pid):
            return
        time.sleep(0.05)
    raise AssertionError("the controller did not crash at the fault point")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("strategy", ["bluegreen", "rolling"])
def test_controller_killed_at_every_step(project, load_runner, strategy):
    project.config.write_text(project.config.read_text().replace('"bluegreen"', f'"{strategy}"'))
    releases = [project.release("v1"), project.release("v2")]
    project.up()
    deploy(project, releases[0])
    load = load_runner(load_spec(project))
    load.wait_for_ok(50, timeout=20)
    step, n_steps, outcomes = 0, None, []
    target = 1
    while n_steps is None or step < n_steps:
        when = "begin" if step % 2 == 0 else "end"
        # Restart the controller with the fault armed, then deploy in the background.
        pid = project.controller_pid()
        if pid:
            os.kill(pid, 9)
            wait_controller_dead(project)
        up_with_fault(project, f"crash:deploy:{step}:{when}")
        bg = project.turnout_bg("deploy", str(releases[target]), "--detach")
        assert bg.wait(60) == 0, bg.stderr.read() if bg.stderr else ""
        wait_controller_dead(project)
        up_with_fault(project, None)  # the restart
        done = project.wait_deploy_done(90)
        detail = project.api_call("GET", f"/v1/deploys/{done['id']}").json()
        n_steps = len(detail["steps"])
        outcomes.append((step, when, done["status"]))
        assert done["status"] in ("succeeded", "rolled_back"), detail
        events = project.api_call("GET", f"/v1/deploys/{done['id']}/events").json()["events"]
        assert any("controller restarted" in e["message"] for e in events)
        # Re-adopted, nothing orphaned: every marked process is an instance the store knows.
        status = project.status()
        known = {i["pid"] for i in status["instances"]}
        assert set(project.marked_pids()) == known, (status["instances"], project.marked_pids())
        if done["status"] == "succeeded":
            target = 1 - target
        step += 1
    report = load.stop()
    assert report.failed == 0, (report.failures, outcomes)
    assert len(outcomes) == n_steps
    print(json.dumps(outcomes))
