"""`turnout router restart` on a project started with `turnout up`: the router is
replaced in place under load, the controller keeps driving it (a deploy after the
restarts goes through the new process), and `turnout down` stops the new one."""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest

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
