"""Acceptance: under load, a canary that answers 5% errors (baseline 0.1%) at a 10%
weight is rolled back automatically; a good canary is promoted; the clients see no
failure other than the releases' own injected errors."""

from __future__ import annotations

import time

import pytest

from turnout.harness import LoadSpec
from turnout.harness.accounting import Kind
from turnout.harness.spec import KeepAliveClients, Mix, NewConnectionClients, PostClients

pytestmark = pytest.mark.slow

CANARY = """
[deploy.canary]
steps = [ { weight = 10, pause = "20s" }, { analysis = "default" } ]
background_analysis = "default"

[analysis.default]
judge = "sequential"
max_error_rate_increase = 0.01
duration = "120s"
on_inconclusive = "rollback"
"""


def load(project, load_runner):
    mix = Mix(
        keepalive=KeepAliveClients(concurrency=4, rate=180),
        newconn=NewConnectionClients(concurrency=1, rate=20),
        post=PostClients(concurrency=1, rate=10, body_bytes=2048),
    )
    runner = load_runner(
        LoadSpec(port=int(project.listen.rsplit(":", 1)[1]), duration_s=300, mix=mix)
    )
    runner.wait_for_ok(100, timeout=30)
    return runner


def not_injected(report, injected: set[str]):
    """Failures other than a release's own 500s (what the canary is judged on)."""
    return [
        o for o in report.outcomes
        if not o.ok and not (o.kind is Kind.HTTP_5XX and o.status == 500 and o.release in injected)
    ]  # fmt: skip


@pytest.fixture
def canary_project(project):
    project.write_config(extra=CANARY)
    text = project.config.read_text().replace('strategy = "bluegreen"', 'strategy = "canary"')
    project.config.write_text(text)
    project.up()
    stable = project.release("v1", error_rate=0.001, seed=1)  # a 0.1% baseline
    assert project.turnout("deploy", str(stable)).returncode == 0
    return project


def test_a_bad_canary_is_caught_and_rolled_back(canary_project, load_runner):
    project = canary_project
    bad = project.release("v1", name="v3-bad", error_rate=0.05, seed=2)
    runner = load(project, load_runner)
    started = time.monotonic()
    out = project.turnout("deploy", str(bad))
    took = time.monotonic() - started
    report = runner.stop()
    last = project.history()[0]
    assert out.returncode == 1, out.stdout
    assert last["status"] == "rolled_back" and last["reason"] == "analysis_failed", last
    print(f"bad canary rolled back {took:.1f}s after the deploy started")
    assert took < 45  # caught during the 20 s pause, not after a fixed window
    assert not_injected(report, {"v1", "v3-bad"}) == []
    assert report.share("v3-bad") > 0  # it did get its 10%
    status = project.status()
    assert status["good"].startswith("r1-") and status["traffic"]["split"] == {
        status["good"]: 100.0
    }
    assert {i["release"] for i in status["instances"]} == {status["good"]}
    events = project.api_call("GET", f"/v1/deploys/{last['id']}/events").json()["events"]
    verdicts = [e for e in events if "analysis default" in e["message"]]
    assert verdicts and "fail" in verdicts[-1]["message"]


def test_a_good_canary_is_promoted(canary_project, load_runner):
    project = canary_project
    good = project.release("v1", name="v2", error_rate=0.001, seed=3)
    runner = load(project, load_runner)
    out = project.turnout("deploy", str(good))
    time.sleep(1)
    report = runner.stop()
    assert out.returncode == 0, out.stdout
    last = project.history()[0]
    assert last["status"] == "succeeded" and last["strategy"] == "canary"
    assert not_injected(report, {"v1", "v2"}) == []
    status = project.status()
    assert status["good"].startswith("r2-")
    assert len([i for i in status["instances"] if i["release"] == status["good"]]) == 2
    assert report.summary.last_seen["v2"] > report.summary.last_seen.get("v1", 0)


def test_testers_reach_a_canary_at_weight_zero(canary_project):
    import httpx

    project = canary_project
    project.write_config(
        extra=CANARY.replace('{ weight = 10, pause = "20s" }', '{ pause = "until-promoted" }')
    )
    project.config.write_text(
        project.config.read_text().replace('strategy = "bluegreen"', 'strategy = "canary"')
    )
    nxt = project.release("v1", name="v2")
    bg = project.turnout_bg("deploy", str(nxt))
    deadline = time.monotonic() + 30
    while (project.status()["deploy"] or {}).get("status") != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    url = f"http://{project.listen}/"
    with httpx.Client() as c:
        plain = {c.get(url).headers["x-release"] for _ in range(20)}
        header = {
            c.get(url, headers={"x-turnout-canary": "1"}).headers["x-release"] for _ in range(5)
        }
    with httpx.Client(cookies={"turnout_canary": "1"}) as c:
        cookie = {c.get(url).headers["x-release"] for _ in range(5)}
    assert plain == {"v1"} and header == {"v2"} and cookie == {"v2"}
    assert project.turnout("abort").returncode == 0
    assert bg.wait(60) == 1
    assert project.history()[0]["reason"] == "aborted"
