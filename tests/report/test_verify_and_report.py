"""`turnout verify` finds a seeded fault and passes a turnout deploy; `turnout report`
draws a real deploy's timeline from the router's counters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.router import one_pool
from turnout.report.timeline import from_samples

pytestmark = pytest.mark.slow

NAIVE_RESTART = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time, urllib.request
    pid, port, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    os.kill(pid, signal.SIGKILL)          # stop ...
    time.sleep(0.5)
    proc = subprocess.Popen(              # ... then start: the naive restart
        [sys.executable, "-m", "turnout.demo.app", "--port", port, "--release", "v1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    open(pidfile, "w").write(str(proc.pid))
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    """
)


def test_verify_sees_the_gap_of_a_naive_restart(router, demo_app, tmp_path):
    router.put_routes(one_pool(demo_app.address))
    script = tmp_path / "restart.py"
    script.write_text(NAIVE_RESTART)
    pidfile = tmp_path / "new.pid"
    try:
        out = subprocess.run(
            [sys.executable, "-m", "turnout", "verify", "--target", router.address, "--json",
             "--report-dir", str(tmp_path / "reports"), "--after", "1", "--slow", "0",
             "--stream", "0", "--", sys.executable, str(script), str(demo_app.pid),
             str(demo_app.port), str(pidfile)],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["failed"] > 0 and result["command_exit"] == 0
    assert result["longest_gap_s"]["seconds"] >= 0.4
    assert Path(result["report"]["png"]).stat().st_size > 10_000
    html = Path(result["report"]["html"]).read_text()
    assert "command starts" in html and "longest gap" in html


def test_verify_passes_a_turnout_deploy_and_report_draws_it(project, tmp_path):
    v1, v2 = project.release("v1"), project.release("v2")
    project.up()
    assert project.turnout("deploy", str(v1)).returncode == 0
    out = project.turnout(
        "verify", "--json", "--after", "2", "--", sys.executable, "-m", "turnout", "deploy",
        str(v2), "-c", str(project.config),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert result["failed"] == 0 and result["command_exit"] == 0
    assert set(result["ok_by_release"]) == {"v1", "v2"}
    html = Path(result["report"]["html"]).read_text()
    assert "route" in html  # the deploy's steps, from the controller's journal

    rep = project.turnout("report", check=True)
    assert "deploy-2.html" in rep.stdout
    page = (project.state_dir / "reports" / "deploy-2.html").read_text()
    assert "switch" in page and "mark r2-" in page
    data = project.api_call("GET", "/v1/deploys/2/timeline").json()
    t = from_samples(data["samples"], data["events"], "deploy #2")
    served = [b.ok for b in t.buckets if b.ok]
    assert served[0].keys() == {n for n in served[0] if n.startswith("r1-")}
    assert all(k.startswith("r2-") for k in served[-1])  # the traffic moved to v2
    assert not any(b.failed for b in t.buckets)


def test_report_without_any_deploy_is_a_clear_error(project):
    project.up()
    out = project.turnout("report")
    assert out.returncode == 2 and out.stderr.strip() == "error: no deploy has run yet"


def test_verify_needs_a_target(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "verify"], capture_output=True, text=True,
        timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2
    assert "give --target HOST:PORT or -c FILE" in out.stderr


def test_verify_refuses_non_loopback_targets(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "verify", "--target", "10.1.2.3:80"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2
    assert "not loopback" in out.stderr and "Traceback" not in out.stderr
