"""`turnout router restart` on a project started with `turnout up`: the router is
replaced in place under load, the controller keeps driving it (a deploy after the
restarts goes through the new process), and `turnout down` stops the new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

import turnout
from turnout.harness import LoadSpec
from turnout.harness.spec import KeepAliveClients, Mix, NewConnectionClients, SlowClients

pytestmark = pytest.mark.slow


def test_router_restart_in_a_project_loses_nothing_and_deploys_go_on(project, load_runner):
    v1, v2 = project.release("v1"), project.release("v2")
    project.up()
    project.turnout("deploy", str(v1), check=True)
    mix = Mix(
        keepalive=KeepAliveClients(concurrency=3, rate=150),
        newconn=NewConnectionClients(concurrency=2, rate=50),
        slow=SlowClients(concurrency=2, min_ms=300, max_ms=1000),
    )
    port = int(project.listen.rsplit(":", 1)[1])
    load = load_runner(LoadSpec(port=port, duration_s=120, mix=mix))
    load.wait_for_ok(100, timeout=20)
    before = httpx.get(f"http://{project.admin}/v1/routes").json()
    for _ in range(3):
        out = project.turnout("router", "restart", check=True)
        assert "router restarted: pid" in out.stdout
        assert f"generation {before['generation']} kept" in out.stdout
    recorded = json.loads((project.state_dir / "run" / "router.json").read_text())["pid"]
    health = httpx.get(f"http://{project.admin}/v1/health").json()
    assert health["pid"] == recorded  # `turnout down` and `status` find the new router
    assert httpx.get(f"http://{project.admin}/v1/routes").json() == before

    project.turnout("deploy", str(v2), check=True)  # the controller drives the new router
    time.sleep(1)
    report = load.stop()
    assert report.failed == 0, report.failures
    assert report.share("v1") > 0 and report.share("v2") > 0
    assert project.status()["good"].startswith("r2-")

    project.turnout("down", check=True)
    assert not os.path.exists(f"/proc/{recorded}") or _zombie(recorded)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# Makes the interpreter's turnout say it is 0.0.9, as a router started before an upgrade
# would; a successor taking over (TURNOUT_ROUTER_HANDOVER set) runs the real version.
OLD_TURNOUT = """\
import os
if "TURNOUT_ROUTER_HANDOVER" not in os.environ:
    import turnout
    turnout.__version__ = "0.0.9"
"""


def test_up_restarts_a_router_of_another_turnout_version_in_place(project, load_runner, tmp_path):
    old = tmp_path / "old-turnout"
    old.mkdir()
    (old / "sitecustomize.py").write_text(OLD_TURNOUT)
    env = {**os.environ, "PYTHONPATH": str(old)}
    subprocess.run(
        [sys.executable, "-m", "turnout", "up", "-c", str(project.config)],
        env=env, cwd=project.root, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    project.turnout("deploy", str(project.release("v1")), check=True)
    health = httpx.get(f"http://{project.admin}/v1/health").json()
    assert health["version"] == "0.0.9"
    port = int(project.listen.rsplit(":", 1)[1])
    load = load_runner(LoadSpec(port=port, duration_s=60, mix=Mix(
        keepalive=KeepAliveClients(concurrency=2, rate=100),
        newconn=NewConnectionClients(concurrency=2, rate=50),
    )))  # fmt: skip
    load.wait_for_ok(100, timeout=20)
    before = httpx.get(f"http://{project.admin}/v1/routes").json()

    out = project.turnout("up", check=True)  # the installed turnout
    assert "router upgraded in place: turnout 0.0.9 -> " in out.stdout, out.stdout
    after = httpx.get(f"http://{project.admin}/v1/health").json()
    assert after["version"] == turnout.__version__ and after["pid"] != health["pid"]
    assert httpx.get(f"http://{project.admin}/v1/routes").json() == before
    recorded = json.loads((project.state_dir / "run" / "router.json").read_text())["pid"]
    assert recorded == after["pid"]  # `turnout down` stops the new one
    assert "router already running" in project.turnout("up", check=True).stdout  # once
    time.sleep(0.5)
    report = load.stop()
    assert report.failed == 0, report.failures
