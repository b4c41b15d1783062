"""Acceptance 4 of issue 8: the health middleware flips to 503 on drain and an external
load balancer's health checks see it before the process stops accepting.

Two apps, each under a real ``turnout run`` (uvicorn), behind a real HAProxy that checks
``GET /healthz`` every 100 ms (fall 2, rise 2), under continuous load through HAProxy.
The first supervisor is stopped (SIGTERM): it creates the app's drain file, waits the
drain notice (2 s), freezes and stops the app, then exits and its socket closes. Polled
meanwhile: HAProxy's view of that server (runtime API ``show stat``) and a plain TCP
connect to the app's port. HAProxy must mark it DOWN, on a 503, well before the first
refused connect, and no request through HAProxy may fail."""

from __future__ import annotations

import contextlib
import csv
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.hotswap import release_folder
from support.peers import Peer, haproxy_argv, haproxy_command, start_process
from support.system import free_port, require_program
from turnout.harness import LoadSpec
from turnout.harness.spec import (
    KeepAliveClients,
    Mix,
    NewConnectionClients,
    PostClients,
    SlowClients,
)

pytestmark = [pytest.mark.slow, pytest.mark.system]

DRAIN_NOTICE = 2.0
MARGIN = 0.5  # DOWN in HAProxy at least this long before the port refuses connections
MIX = Mix(
    keepalive=KeepAliveClients(concurrency=4, rate=200),
    newconn=NewConnectionClients(concurrency=2, rate=60),
    post=PostClients(concurrency=1, rate=30, body_bytes=4096),
    slow=SlowClients(concurrency=1, min_ms=200, max_ms=800),
)


def health_checked_haproxy_config(
    listen: str, servers: dict[str, str], *, workdir: Path, stats_socket: Path
) -> str:
    """Round robin over ``servers`` (name -> address), each health-checked with
    ``GET /healthz`` every 100 ms: DOWN after 2 failed checks, UP after 2 passed."""
    lines = "".join(f"    server {name} {address}\n" for name, address in servers.items())
    return (
        "global\n"
        "    maxconn 4096\n"
        f"    pidfile {workdir}/haproxy.pid\n"
        f"    stats socket {stats_socket} mode 600 level admin\n"
        "defaults\n"
        "    mode http\n"
        "    option http-keep-alive\n"
        "    timeout connect 2s\n"
        "    timeout client 30s\n"
        "    timeout server 30s\n"
        "    timeout http-request 10s\n"
        "    timeout http-keep-alive 30s\n"
        "    timeout queue 5s\n"
        # A check answered late (a busy 2-core machine) is not a failed check here: the
        # test is about the 503, so the check timeout is well above the interval.
        "    timeout check 1s\n"
        "frontend fe\n"
        f"    bind {listen}\n"
        "    default_backend be\n"
        "backend be\n"
        "    balance roundrobin\n"
        "    option httpchk GET /healthz\n"
        "    default-server check inter 100ms fall 2 rise 2\n" + lines
    )


@pytest.fixture
def haproxy_in_front(tmp_path: Path) -> Iterator[list[Peer]]:
    """Filled by the test with the HAProxy it starts; stopped at teardown."""
    started: list[Peer] = []
    yield started
    for peer in started:
        peer.stop()


def start_health_checked_haproxy(tmp_path: Path, servers: dict[str, str]) -> Peer:
    haproxy = require_program("haproxy")
    workdir = tmp_path / "haproxy"
    workdir.mkdir()
    listen = f"127.0.0.1:{free_port()}"
    conf = workdir / "haproxy.cfg"
    sock = workdir / "haproxy.sock"
    conf.write_text(
        health_checked_haproxy_config(listen, servers, workdir=workdir, stats_socket=sock)
    )
    peer = start_process(
        "haproxy", haproxy_argv(haproxy, conf), address=listen, workdir=workdir, conf=conf
    )
    peer.extra["stats_socket"] = sock
    return peer


def server_stats(peer: Peer) -> dict[str, dict[str, str]]:
    """``show stat`` rows of backend ``be``'s servers, by server name."""
    text = haproxy_command(peer, "show stat").strip()
    rows = csv.DictReader(text.removeprefix("# ").splitlines())
    return {
        row["svname"]: row
        for row in rows
        if row["pxname"] == "be" and row["svname"] not in ("BACKEND", "FRONTEND")
    }


@dataclass
class Watch:
    """What the pollers saw, in ``time.monotonic()`` seconds."""

    stop: threading.Event = field(default_factory=threading.Event)
    first_failed_check: float | None = None  # status left "UP" (e.g. "UP 1/2")
    down: float | None = None  # status "DOWN"
    down_row: dict[str, str] = field(default_factory=dict, repr=False)
    refused: float | None = None
    connects: int = 0
    polls: int = 0
    errors: list[str] = field(default_factory=list)


def watch_haproxy(peer: Peer, server: str, watch: Watch, every: float = 0.02) -> None:
    while not watch.stop.is_set() and watch.down is None:
        try:
            row = server_stats(peer)[server]
        except (OSError, KeyError) as exc:
            watch.errors.append(f"show stat: {exc!r}")
            time.sleep(every)
            continue
        now = time.monotonic()
        watch.polls += 1
        state = row["status"]
        if state != "UP" and watch.first_failed_check is None:
            watch.first_failed_check = now
        if state.startswith("DOWN"):
            watch.down = now
            watch.down_row = row
        time.sleep(every)


def watch_port(port: int, watch: Watch, every: float = 0.01) -> None:
    while not watch.stop.is_set() and watch.refused is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                watch.connects += 1
        except ConnectionRefusedError:
            watch.refused = time.monotonic()
        except OSError as exc:  # a timeout on a full backlog: still accepting
            watch.errors.append(f"connect: {exc!r}")
        time.sleep(every)


def wait_until_checked_up(peer: Peer, servers: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = server_stats(peer)
        if all(
            rows[s]["status"] == "UP" and rows[s]["check_status"].strip("* ") == "L7OK"
            for s in servers
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not UP after checks: {rows}\n{peer.log_tail()}")
        time.sleep(0.05)


def test_haproxy_sees_the_drain_503_before_the_port_refuses_connections(
    supervised, load_runner, haproxy_in_front, tmp_path
):
    require_program("haproxy")
    releases = tmp_path / "releases"
    with ThreadPoolExecutor(2) as pool:  # start both at once: each takes a second or two
        starts = [
            pool.submit(supervised, "uvicorn", release_folder(releases, v), drain_notice="2s")
            for v in ("v1", "v2")
        ]
    leaving, staying = (start.result() for start in starts)
    proxy = start_health_checked_haproxy(
        tmp_path, {"leaving": leaving.address, "staying": staying.address}
    )
    haproxy_in_front.append(proxy)
    wait_until_checked_up(proxy, ["leaving", "staying"])

    load = load_runner(LoadSpec(port=int(proxy.address.rsplit(":", 1)[1]), mix=MIX, duration_s=60))
    load.wait_for_ok(100, timeout=30)
    time.sleep(0.5)

    watch = Watch()
    pollers = [
        threading.Thread(target=watch_haproxy, args=(proxy, "leaving", watch), daemon=True),
        threading.Thread(target=watch_port, args=(leaving.port, watch), daemon=True),
    ]
    for poller in pollers:
        poller.start()
    time.sleep(0.1)  # both pollers are going
    sigterm = time.monotonic()
    leaving.process.send_signal(signal.SIGTERM)
    final: dict[str, dict[str, str]] = {}
    try:
        leaving.process.wait(30)  # drain notice, freeze, graceful stop, exit
        deadline = time.monotonic() + 5
        while watch.refused is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)  # the load goes on through HAProxy after the app is gone
    finally:
        watch.stop.set()
        for poller in pollers:
            poller.join(5)
        report = load.stop()
        with contextlib.suppress(OSError):
            final = server_stats(proxy)

    checks = ("status", "check_status", "check_code", "last_chk")
    seen = {k: watch.down_row.get(k) for k in checks}
    now = {name: {k: row.get(k) for k in checks} for name, row in final.items()}
    context = (
        f"{watch}\nat DOWN: {seen}\nat the end: {now}\n"
        f"{proxy.log_tail()}\n{leaving.output()[-3000:]}"
    )
    assert watch.down is not None, f"HAProxy never marked the server DOWN\n{context}"
    assert watch.refused is not None, f"the port never refused a connection\n{context}"
    down_s, refused_s = watch.down - sigterm, watch.refused - sigterm
    # HAProxy took it out during the drain notice, before the app was even frozen...
    assert down_s < DRAIN_NOTICE, (down_s, context)
    # ...and well before the port stopped accepting.
    assert watch.refused - watch.down >= MARGIN, (down_s, refused_s, context)
    # The port accepted connections throughout the notice (the kernel queues them).
    assert refused_s >= DRAIN_NOTICE and watch.connects > 0, (refused_s, context)
    # The checks that flipped it saw the middleware's 503.
    row = watch.down_row
    assert row["check_status"].strip("* ") == "L7STS", context
    assert row["check_code"] == "503", context
    assert "Layer7 wrong status, code: 503" in proxy.log.read_text(errors="replace"), context
    # Nothing failed through HAProxy, and both apps served it.
    assert report.failed == 0, (report.failures, context)
    assert report.share("v1") > 0 and report.share("v2") > 0, report.summary  # both served
    print(
        f"\nDOWN in HAProxy {down_s:.3f}s after SIGTERM (first failed check "
        f"{(watch.first_failed_check or watch.down) - sigterm:.3f}s), first refused connect "
        f"{refused_s:.3f}s: {watch.refused - watch.down:.3f}s earlier; "
        f"{report.ok} requests through HAProxy, 0 failed"
    )
