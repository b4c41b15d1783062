"""Acceptance: deploys under continuous load lose no request; a blue/green rollback
inside the warm window takes effect in under 100 ms; recreate shows downtime."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from turnout.harness import LoadSpec
from turnout.harness.spec import (
    KeepAliveClients,
    Mix,
    NewConnectionClients,
    PostClients,
    SlowClients,
)

pytestmark = pytest.mark.slow


def mix() -> Mix:
    return Mix(
        keepalive=KeepAliveClients(concurrency=3, rate=150),
        newconn=NewConnectionClients(concurrency=2, rate=50),
        post=PostClients(concurrency=2, rate=40, body_bytes=8192),
        slow=SlowClients(concurrency=2, min_ms=1000, max_ms=2000),
    )


def load_spec(project) -> LoadSpec:
    return LoadSpec(port=int(project.listen.rsplit(":", 1)[1]), duration_s=120, mix=mix())


def deploy(project, folder, *extra):
    out = project.turnout("deploy", str(folder), *extra)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.mark.parametrize("strategy", ["bluegreen", "rolling"])
def test_deploy_under_load_fails_no_request(project, load_runner, strategy):
    project.write_config(extra="", instances=3)
    project.config.write_text(project.config.read_text().replace('"bluegreen"', f'"{strategy}"'))
    v1, v2 = project.release("v1"), project.release("v2")
    project.up()
    deploy(project, v1)
    load = load_runner(load_spec(project))
    load.wait_for_ok(100, timeout=20)
    out = deploy(project, v2)
    time.sleep(1)
    report = load.stop()
    assert report.failed == 0, (report.failures, out.stdout)
    assert report.share("v1") > 0 and report.share("v2") > 0
    status = project.status()
    assert status["traffic"]["split"] == {status["good"]: 100.0}
    assert status["good"].startswith("r2-")
    with httpx.Client() as c:
        assert {c.get(f"http://{project.listen}/").headers["x-release"] for _ in range(20)} == {
            "v2"
        }
    assert f"✓ {status['good']} is live" in out.stdout


def test_bluegreen_rollback_in_the_warm_window_is_instant_and_lossless(project, load_runner):
    v1, v2 = project.release("v1"), project.release("v2")
    project.up()
    deploy(project, v1)
    deploy(project, v2)
    seen: list[tuple[float, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=5) as c:
            while not stop.is_set():
                r = c.get(f"http://{project.listen}/")
                seen.append((time.monotonic(), r.headers.get("x-release", str(r.status_code))))

    load = load_runner(load_spec(project))
    load.wait_for_ok(50, timeout=20)
    t = threading.Thread(target=hammer)
    t.start()
    time.sleep(0.5)
    token = (project.state_dir / "token").read_text().strip()
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as api:
        t0 = time.monotonic()  # the command's request
        answer = api.post(f"http://{project.api}/v1/rollback", json={})
    assert answer.status_code == 201, answer.text
    deadline = time.monotonic() + 10
    while not any(ts >= t0 and rel == "v1" for ts, rel in seen) and time.monotonic() < deadline:
        time.sleep(0.01)
    first_v1 = min(ts for ts, rel in seen if ts >= t0 and rel == "v1")
    done = project.wait_deploy_done()
    time.sleep(0.5)
    stop.set()
    t.join()
    report = load.stop()
    print(f"rollback took effect in {1000 * (first_v1 - t0):.1f} ms")
    assert first_v1 - t0 < 0.100, f"rollback took {1000 * (first_v1 - t0):.0f} ms"
    assert done["status"] == "succeeded" and done["strategy"] == "rollback"
    assert report.failed == 0, report.failures
    assert all(rel in ("v1", "v2") for _, rel in seen)
    assert project.status()["good"].startswith("r1-")


def test_recreate_shows_the_downtime_the_harness_can_see(project, load_runner):
    project.config.write_text(project.config.read_text().replace('"bluegreen"', '"recreate"'))
    v1, v2 = project.release("v1"), project.release("v2")
    project.up()
    deploy(project, v1)
    load = load_runner(load_spec(project))
    load.wait_for_ok(100, timeout=20)
    deploy(project, v2)
    report = load.stop()
    assert report.failed > 0
    assert report.summary.longest_gap is not None and report.summary.longest_gap.seconds > 0.2


def test_deploying_the_live_digest_again_is_a_no_op(project):
    v1 = project.release("v1")
    project.up()
    deploy(project, v1)
    out = project.turnout("deploy", str(v1))
    assert out.returncode == 0 and "is already live (same digest)" in out.stdout
    assert len(project.history()) == 1
    unknown = project.turnout("rollback", "r99")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("error: unknown release 'r99'; known releases: r1-")
    only = project.turnout("rollback")
    assert only.returncode == 2 and "nothing to go back to" in only.stderr
    logs = project.turnout("logs", check=True).stdout
    assert logs.count("== r1-") == 2  # both instances of the live release
    assert "shop v1 listening on http://127.0.0.1:" in logs


def test_a_second_deploy_while_one_runs_is_refused(project):
    project.write_config(extra="[deploy.bluegreen]\npause_before_switch = true\n")
    v1, v2, v3 = project.release("v1"), project.release("v2"), project.release("v2", name="v2b")
    project.up()
    deploy(project, v1)
    bg = project.turnout_bg("deploy", str(v2))
    deadline = time.monotonic() + 30
    while project.status()["deploy"] is None or project.status()["deploy"]["status"] != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    refused = project.turnout("deploy", str(v3))
    assert refused.returncode == 2
    assert "is still in progress" in refused.stderr
    assert project.turnout("promote").returncode == 0
    assert bg.wait(60) == 0
    assert project.status()["good"].startswith("r2-")
