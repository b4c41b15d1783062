"""The switch tour (``turnout demo``): the router in front of two releases of the
example shop, under a realistic load, moving all traffic from v1 to v2.

Steps: start the router and two instances of each release on free loopback
ports, route everything to v1, put load on the router, switch the weights to v2
(acknowledged with the table's generation), drain v1, keep the load a little
longer, stop everything, and report what the clients saw. Every process started
is stopped by PID, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from turnout.errors import SystemFault
from turnout.harness import LoadRunner, LoadSpec
from turnout.harness.report import Report
from turnout.harness.spec import Mix
from turnout.router.client import RouterAdmin

CHECKS = {"path": "/healthz", "interval": "250ms", "timeout": "1s", "rise": 2, "fall": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_examples() -> Path | None:
    """``examples/shop`` of a source checkout (cwd or next to the package), if any."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidate = base / "examples" / "shop"
        if (candidate / "v1" / "app.py").is_file():
            return candidate
    return None


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    address: str
    log: Path

    def stop(self, grace: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


@dataclass
class Stack:
    """Everything the tour started, to stop it all whatever happens."""

    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], address: str, cwd: Path | None = None) -> Process:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                start_new_session=True,
            )  # fmt: skip
        proc = Process(name, popen, address, log)
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


def wait_http(proc: Process, path: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.popen.poll() is not None:
            tail = proc.log.read_text(errors="replace")[-2000:]
            raise SystemFault(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{proc.address}{path}", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemFault(f"{proc.name} did not answer {path} within {timeout:g}s")
        time.sleep(0.05)


@dataclass
class TourResult:
    report: Report
    events: list[tuple[float, str]]
    switch_generation: int
    drain: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": "switch",
            "requests": self.report.sent,
            "failed": self.report.failed,
            "failed_by_kind": self.report.failed_by_kind,
            "p99_ms": self.report.to_dict()["latency_ms"].get("p99"),
            "ok_by_release": self.report.summary.ok_by_release,
            "verdict": "ok" if self.report.failed == 0 else "failed",
            "events": [{"at_s": round(t, 3), "event": e} for t, e in self.events],
            "drain": self.drain,
        }


@contextlib.contextmanager
def started_stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="turnout-demo-") as tmp:
        stack = Stack(Path(tmp))
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            yield stack
        finally:
            stack.stop_all()
            signal.signal(signal.SIGTERM, previous)


def app_argv(examples: Path | None, release: str, port: int) -> tuple[list[str], Path | None]:
    if examples is not None:
        return [sys.executable, "app.py", "--port", str(port)], examples / release
    return [
        sys.executable,
        "-m",
        "turnout.demo.app",
        "--port",
        str(port),
        "--release",
        release,
    ], None


def run_tour(
    duration_before: float = 4.0,
    duration_after: float = 4.0,
    say: Callable[[str], None] = print,
) -> TourResult:
    examples = find_examples()
    with started_stack() as stack:
        t0 = time.monotonic()
        events: list[tuple[float, str]] = []

        def event(text: str) -> None:
            at = time.monotonic() - t0
            events.append((at, text))
            say(f"{at:6.2f}s  {text}")

        listen, admin_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        router = stack.spawn(
            "router",
            [sys.executable, "-m", "turnout", "router", "--listen", listen, "--admin", admin_addr,
             "--state-dir", str(stack.workdir / "router")],
            admin_addr,
        )  # fmt: skip
        pools: dict[str, list[str]] = {}
        for release in ("v1", "v2"):
            for i in range(2):
                port = free_port()
                argv, cwd = app_argv(examples, release, port)
                stack.spawn(f"{release}-{i}", argv, f"127.0.0.1:{port}", cwd=cwd)
                pools.setdefault(release, []).append(f"127.0.0.1:{port}")
        wait_http(router, "/v1/health")
        for proc in stack.processes[1:]:
            wait_http(proc, "/healthz")
        event(f"router on {listen}; v1 on {', '.join(pools['v1'])}; v2 on {', '.join(pools['v2'])}")

        def table(w1: int, w2: int) -> dict[str, Any]:
            return {
                "pools": {r: {"instances": a, "health": CHECKS} for r, a in pools.items()},
                "weights": {"v1": w1, "v2": w2},
            }

        with RouterAdmin(admin_addr) as admin:
            g = admin.put_routes(table(100, 0), wait_healthy="10s")
            event(f"route table generation {g}: v1=100 v2=0 (all instances healthy)")
            spec = LoadSpec(
                port=int(listen.rsplit(":", 1)[1]),
                duration_s=duration_before + duration_after + 60,
                mix=Mix.realistic(),
            )
            load = LoadRunner(spec).start()
            try:
                load.wait_for_ok(50, timeout=20)
                event("load started: keep-alive, new-connection, POST, slow, stream, WebSocket")
                time.sleep(duration_before)
                g = admin.put_routes(table(0, 100))
                event(f"switch acknowledged: generation {g} is live, v1=0 v2=100")
                drain = admin.drain(pool="v1", timeout="30s")
                event(
                    f"v1 drained in {drain['waited_ms']:.0f} ms "
                    f"({'nothing left in flight' if drain['drained'] else 'deadline passed'})"
                )
                time.sleep(duration_after)
            finally:
                report = load.stop()
            event(f"load stopped: {report.sent} requests, {report.failed} failed")
        return TourResult(report, events, g, drain)
