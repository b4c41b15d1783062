"""Acceptance (issue 8): the router restarts itself in place. A new router process takes
over the listening sockets and the live route table; under continuous load 20 restarts
in a row lose no request, and the table (and its generation) is unchanged. Changes
sent while it restarts are either applied before the hand-over or refused with a
retry and applied by the successor — never lost. A successor that fails to start
leaves the old router serving, with the reason."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
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
    StreamClients,
)
from turnout.router.client import RouterAdmin

TOKEN = "restart-secret"
CHECKS = {"path": "/healthz", "interval": "200ms", "timeout": "1s", "rise": 2, "fall": 2}
MIX = Mix(
    keepalive=KeepAliveClients(concurrency=4, rate=300),
    newconn=NewConnectionClients(concurrency=2, rate=100),
    post=PostClients(concurrency=2, rate=60, body_bytes=16 * 1024),
    slow=SlowClients(concurrency=2, min_ms=300, max_ms=1200),
    stream=StreamClients(concurrency=1, rate=0.2, chunks=20, interval_ms=100),
)


def table(v1, v2, w1=80, w2=20):
    return {
        "pools": {
            "v1": {"instances": [d.address for d in v1], "health": CHECKS},
            "v2": {"instances": [d.address for d in v2], "health": CHECKS},
        },
        "weights": {"v1": w1, "v2": w2},
        "sticky": {"cookie": "turnout_sticky", "max_age": "1h"},
        "rules": [{"header": "x-version", "equals": "v2", "pool": "v2"}],
    }


def restart(router, *extra: str) -> subprocess.CompletedProcess[str]:
    token_file = router.state_dir.parent / "restart-token"
    token_file.write_text(TOKEN)
    argv = [sys.executable, "-m", "turnout", "router", "restart", "--admin",
            router.admin_address, "--token-file", str(token_file), *extra]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.fixture
def successors():
    """Pids of routers started by restarts (children of no test process): killed at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def stats_total(router) -> int:
    pools = router.admin("GET", "/v1/stats").json()["pools"]
    return sum(sum(p["codes"]) for p in pools.values())


@pytest.mark.slow
def test_twenty_restarts_under_load_lose_no_request_and_keep_the_table(
    router_factory, demo_factory, load_runner, successors
):
    router = router_factory(token=TOKEN)
    v1 = [demo_factory(release="v1") for _ in range(2)]
    v2 = [demo_factory(release="v2")]
    generation = router.put_routes(table(v1, v2))
    router.wait_routable(*(d.address for d in v1 + v2))
    before = router.routes()
    load = load_runner(LoadSpec(port=router.port, duration_s=300, mix=MIX))
    load.wait_for_ok(200)

    pids = [router.admin("GET", "/v1/health").json()["pid"]]
    took = []
    counted = stats_total(router)
    for _ in range(20):
        out = restart(router, "--json")
        assert out.returncode == 0, (out.stderr, router.output()[-3000:])
        answer = json.loads(out.stdout)
        successors.append(answer["pid"])
        assert answer["previous_pid"] == pids[-1] and answer["pid"] not in pids
        assert answer["generation"] == generation
        pids.append(answer["pid"])
        took.append(answer["took_ms"])
        health = router.admin("GET", "/v1/health").json()
        assert health["pid"] == answer["pid"]  # the admin API is the successor's
        assert router.routes() == before  # the same table, the same generation
        now = stats_total(router)
        assert now >= counted  # per-release counters carry over: they never go back
        counted = now
        time.sleep(0.3)
    time.sleep(1.0)
    report = load.stop()

    assert report.failed == 0, (report.failures, router.output()[-3000:])
    assert report.failed_by_kind.get("refused", 0) == 0
    assert report.sent > 3000
    assert report.summary.by_client["slow"].ok > 10
    assert report.summary.by_client["stream"].ok >= 1
    assert report.share("v2") > 0.05  # the weights and rules still applied
    # Every old router exited once its connections finished.
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{p}") and _alive(p) for p in pids[:-1]):
        assert time.monotonic() < deadline, "an old router did not exit"
        time.sleep(0.1)
    print(f"\n20 router restarts: median hand-over {sorted(took)[10]:.0f} ms, "
          f"{report.sent} requests, 0 failed")  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_route_changes_during_restarts_are_applied_once_and_never_lost(
    router_factory, demo_factory, successors
):
    router = router_factory(token=TOKEN)
    v1 = [demo_factory(release="v1")]
    v2 = [demo_factory(release="v2")]
    router.put_routes(table(v1, v2, 100, 0))
    acknowledged: list[tuple[int, int]] = []  # (generation, v2 weight)
    errors: list[str] = []
    stop = threading.Event()

    def change_routes() -> None:
        with RouterAdmin(router.admin_address, TOKEN) as client:
            w = 0
            while not stop.is_set():
                w = (w + 7) % 101
                try:
                    acknowledged.append((client.put_routes(table(v1, v2, 100 - w, w)), w))
                except Exception as exc:  # an unacknowledged change is fine; a lost one is not
                    errors.append(str(exc))
                time.sleep(0.01)

    worker = threading.Thread(target=change_routes)
    worker.start()
    try:
        for _ in range(5):
            out = restart(router, "--json")
            assert out.returncode == 0, out.stderr
            successors.append(json.loads(out.stdout)["pid"])
            time.sleep(0.3)
    finally:
        stop.set()
        worker.join(30)
    assert errors == []  # every change was acknowledged (retried across the hand-overs)
    generations = [g for g, _ in acknowledged]
    assert generations == sorted(set(generations)) and len(generations) > 20
    live = router.routes()
    assert live["generation"] == generations[-1]  # the last acknowledged change is live
    assert live["weights"]["v2"] == acknowledged[-1][1]


def test_a_successor_that_cannot_start_leaves_the_old_router_serving(
    router_factory, demo_factory, tmp_path, successors
):
    config = tmp_path / "router.toml"
    config.write_text("[router]\nmax_body_bytes = 1048576\n")
    router = router_factory(token=TOKEN, config=config)
    app, other = demo_factory(release="v1"), demo_factory(release="v2")
    generation = router.put_routes(table([app], [other], 100, 0))
    router.wait_routable(app.address)
    pid = router.admin("GET", "/v1/health").json()["pid"]

    config.write_text("[router]\nmax_body_bytes = 'lots'\n")  # the new router will refuse it
    out = restart(router)
    assert out.returncode == 1, out.stdout
    assert "the new router did not start" in out.stderr and "max_body_bytes" in out.stderr
    assert f"this one (pid {pid}) keeps serving" in out.stderr
    assert "Traceback" not in out.stderr

    health = router.admin("GET", "/v1/health").json()
    assert health["pid"] == pid and health["generation"] == generation
    assert router.put_routes(table([app], [other], 50, 50)) == generation + 1  # admin reopened
    assert httpx.get(router.url("/"), timeout=5).status_code == 200
