"""Acceptance: real gunicorn (sync, gthread) and uvicorn serving the bundled app, 20 hot
swaps in a row under continuous load: 0 refused connections, 0 failed requests. A naive
stop-then-start under the same load fails requests. A new release that crashes or never
becomes healthy leaves the old one serving."""

from __future__ import annotations

import os
import signal
import time

import pytest

from support.hotswap import release_folder
from turnout.harness import LoadSpec
from turnout.harness.spec import (
    KeepAliveClients,
    Mix,
    NewConnectionClients,
    PostClients,
    SlowClients,
    StreamClients,
    WebSocketClients,
)

pytestmark = pytest.mark.slow

MIX = Mix(
    keepalive=KeepAliveClients(concurrency=4, rate=250),
    newconn=NewConnectionClients(concurrency=2, rate=80),
    post=PostClients(concurrency=2, rate=50, body_bytes=4096),
    slow=SlowClients(concurrency=2, min_ms=500, max_ms=1500),
)
# Long-lived traffic: streams (2 s) finish on the old process within the drain budget;
# WebSocket sessions (ASGI only) are closed with 1001 by turnout.app and reconnect.
LONG = {
    "stream": StreamClients(concurrency=1, rate=0.5, chunks=20, interval_ms=100),
    "websocket": WebSocketClients(concurrency=2, rate=20, messages_per_session=200, interval_ms=0),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn-sync", "gunicorn-gthread"])
def test_twenty_hot_swaps_under_load_lose_nothing(server, supervised, load_runner, tmp_path):
    v1 = release_folder(tmp_path / "releases", "v1")
    v2 = release_folder(tmp_path / "releases", "v2")
    # Two workers busy with slow requests answer few checks: on a loaded 2-core
    # machine the new generation may need more than a few seconds to pass two.
    sup = supervised(server, v1, start_timeout="20s")
    # WebSockets need ASGI; a 2 s stream holds one of gunicorn sync's two single-request
    # workers (gunicorn's docs: sync workers are not for long requests).
    long = {"uvicorn": LONG, "gunicorn-gthread": {"stream": LONG["stream"]}}.get(server, {})
    mix = MIX.model_copy(update=long)
    load = load_runner(LoadSpec(port=sup.port, duration_s=600, mix=mix))
    load.wait_for_ok(50, timeout=30)
    results = []
    for i in range(20):
        code, answer = sup.reload(workdir=v2 if i % 2 == 0 else v1)
        assert code == 0 and answer["ok"], (answer, sup.output()[-3000:])
        results.append(answer)
    time.sleep(1)
    report = load.stop()
    assert report.failed == 0, (report.failures, sup.output()[-3000:])
    assert report.failed_by_kind.get("refused", 0) == 0
    assert report.share("v1") > 0.1 and report.share("v2") > 0.1  # the swaps took effect
    assert [r["generation"] for r in results] == list(range(2, 22))
    by_client = report.summary.by_client
    assert by_client["slow"].ok > 5  # slow requests were in flight across swaps
    if long:
        assert by_client["stream"].ok >= 3
    if server == "uvicorn":
        assert by_client["websocket"].ok > 300  # echoed messages, sessions across swaps
    drains = sorted(r["drain_s"] for r in results)
    print(f"\n{server}: 20 swaps, median ready {sorted(r['ready_s'] for r in results)[10]:.2f}s, "
          f"median drain {drains[10]:.2f}s (max {drains[-1]:.2f}s), {report.sent} requests")  # fmt: skip


def test_naive_stop_then_start_fails_requests(demo_factory, load_runner):
    app = demo_factory(release="v1")
    load = load_runner(LoadSpec(port=app.port, duration_s=120, mix=MIX))
    load.wait_for_ok(50, timeout=30)
    for _ in range(3):
        port = app.port
        os.kill(app.pid, signal.SIGTERM)
        app.wait(15)
        app = demo_factory("--drain-ms", "0", release="v1", port=port)
    report = load.stop()
    assert report.failed > 0
    assert report.failed_by_kind.get("refused", 0) > 0


def test_a_release_that_crashes_at_start_is_refused_and_the_old_one_keeps_serving(
    supervised, load_runner, tmp_path
):
    v1 = release_folder(tmp_path / "releases", "v1")
    sup = supervised("uvicorn", v1)
    load = load_runner(LoadSpec(port=sup.port, duration_s=120, mix=MIX))
    load.wait_for_ok(50, timeout=30)
    code, answer = sup.reload(command="python -c 'import sys; print(\"boom\"); sys.exit(3)'")
    assert code == 1 and answer["ok"] is False
    assert "exited with code 3" in answer["reason"] and "boom" in answer["reason"]
    broken = release_folder(tmp_path / "releases", "v2-sick", never_healthy=True)
    code, answer = sup.reload(workdir=broken)
    assert code == 1 and "not healthy within 8s" in answer["reason"] and "503" in answer["reason"]
    refused_at = load.progress().elapsed_s
    time.sleep(2)
    report = load.stop()
    assert report.failed == 0, report.failures
    # The sick process served (correctly) while it was being checked, and nothing after.
    assert report.summary.last_seen.get("v2-sick", 0) <= refused_at
    assert report.summary.last_seen["v1"] > refused_at + 1
