"""The demo (``turnout demo``, what ``make demo`` runs): every strategy, one after
another, under one continuous load, with the bundled example shop.

In a temporary project it starts the router and the controller, deploys v1, puts
a realistic load on the router (keep-alive and new-connection clients, POSTs,
slow requests, a long stream, WebSocket sessions) and then runs:

1. ``recreate`` to v2 — stop then start: the failures every naive deploy has;
2. ``rolling`` back to v1;
3. ``bluegreen`` to v2, then ``turnout rollback`` inside the warm window;
4. ``bluegreen`` to v3-bad, a release that answers 500 to the smoke check: caught
   and rolled back automatically;
5. ``canary`` to v3-bad as shipped (5% errors, 150 ms slower): the background
   analysis catches it at 10% of the traffic and rolls it back.

Each scenario is judged from what the load's clients saw in its own time window;
the whole run is drawn as one timeline (report PNG + HTML). Every process is
stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.controller.client import ControllerClient
from turnout.controller.paths import Paths, ensure_token, load_config_file, read_token
from turnout.errors import SystemFault
from turnout.harness import LoadRunner, LoadSpec
from turnout.harness.accounting import Outcome, summarize
from turnout.harness.report import Report
from turnout.harness.spec import Mix
from turnout.report.timeline import Marker, markers

EXAMPLE = """
[app]
name = "shop"
command = "{python} app.py --port {{port}} --drain-ms 300"
instances = 2
stop_timeout = "5s"

[health]
path = "/healthz"
interval = "100ms"
timeout = "1s"
rise = 2
fall = 2

[router]
listen = "{listen}"
admin = "{admin}"

[controller]
api = "{api}"

[deploy]
strategy = "bluegreen"
timeout = "20s"
drain_timeout = "10s"
keep_warm = "2m"
watch = "1s"

[deploy.canary]
steps = [ {{ weight = 10, pause = "40s" }}, {{ weight = 50, pause = "10s" }} ]
background_analysis = "default"

[analysis.default]
judge = "sequential"
# The load is mostly POSTs the bad release answers correctly: its 5% errors on
# GET / are ~0.5% of its requests, so the tolerance is 0.1 points, not 1 (the
# baseline answers no 500 at all). A slow machine sends fewer requests: the steps
# are long enough for the analysis to see enough of them; it ends the deploy as
# soon as it has.
max_error_rate_increase = 0.001

[deploy.smoke]
checks = [ {{ path = "/", expect = "200" }} ]
timeout = "5s"
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_examples() -> Path:
    """``examples/shop`` of a source checkout (cwd or next to the package)."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidate = base / "examples" / "shop"
        if (candidate / "v1" / "app.py").is_file():
            return candidate
    raise SystemFault("examples/shop not found: run the demo from a turnout checkout")


@dataclass
class Scenario:
    strategy: str  # what the table shows
    to: str  # the version its traffic should move to (the X-Release label)
    started: float  # seconds since the load started
    ended: float
    deploy: dict[str, Any]
    outcomes: list[Outcome]
    rollback_ms: float | None = None
    bad: str | None = None  # a release whose own 500 answers are the fault being caught

    def injected(self, o: Outcome) -> bool:
        return self.bad is not None and not o.ok and o.status == 500 and o.release == self.bad

    def result(self) -> dict[str, Any]:
        # A bad canary's own 500s are what the analysis caught, not requests the
        # deploy lost: they are counted apart.
        injected = [o for o in self.outcomes if self.injected(o)]
        kept = [o for o in self.outcomes if not self.injected(o)]
        s = summarize(kept, duration=max(0.001, self.ended - self.started))
        p99 = s.latency.p99 if s.latency else None
        status = self.deploy.get("status")
        verdict = {
            "succeeded": "live" if self.deploy.get("strategy") != "rollback" else "rolled back",
            "rolled_back": f"rolled back ({self.deploy.get('reason')})",
        }.get(str(status), str(status))
        # The switch: the first response served by the release the scenario moves to.
        arrived = [o.end for o in self.outcomes if o.ok and o.release == self.to]
        switch = round(min(arrived) - self.started, 2) if arrived else None
        return {
            "strategy": self.strategy,
            "requests": s.sent,
            "failed": s.failed,
            "failed_by_kind": s.failed_by_kind,
            "p99_ms": round(p99, 2) if p99 is not None else None,
            "switch_s": switch if self.rollback_ms is None else None,
            "rollback_ms": None if self.rollback_ms is None else round(self.rollback_ms, 1),
            "longest_gap_ms": round(s.longest_gap.seconds * 1000)
            if s.longest_gap is not None
            else None,
            "verdict": verdict,
            "caught_errors": len(injected),
            "deploy": self.deploy.get("id"),
            "message": self.deploy.get("message"),
        }


@dataclass
class DemoRun:
    scenarios: list[Scenario]
    report: Report
    marks: list[Marker]

    def results(self) -> list[dict[str, Any]]:
        return [s.result() for s in self.scenarios]

    def claims_hold(self) -> bool:
        """Recreate fails requests; every other strategy fails none."""
        rows = self.results()
        return all((r["failed"] > 0) == (r["strategy"] == "recreate") for r in rows)


@contextlib.contextmanager
def project() -> Iterator[tuple[Paths, str]]:
    """A temporary project with the router and controller running; all stopped after."""
    from turnout.cli.lifecycle import start_controller, start_router
    from turnout.controller import procs

    with tempfile.TemporaryDirectory(prefix="turnout-demo-") as tmp:
        root = Path(tmp)
        listen = f"127.0.0.1:{free_port()}"
        config = root / "turnout.toml"
        config.write_text(
            EXAMPLE.format(
                python=sys.executable, listen=listen, admin=f"127.0.0.1:{free_port()}",
                api=f"127.0.0.1:{free_port()}",
            )
        )  # fmt: skip
        cfg = load_config_file(config)
        paths = Paths.of(config, cfg)
        ensure_token(paths)
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            start_router(cfg, paths)
            start_controller(cfg, paths)
            yield paths, listen
        finally:
            with contextlib.suppress(Exception), _client(paths) as api:
                api.down()
            for name in ("controller", "router"):
                with contextlib.suppress(Exception):
                    procs.stop(name, paths.run, timeout=10)
            _kill_marked(paths.state_dir)
            signal.signal(signal.SIGTERM, previous)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _client(paths: Paths) -> ControllerClient:
    cfg = load_config_file(paths.config)
    return ControllerClient(cfg.controller.api, read_token(paths))


def _kill_marked(state_dir: Path) -> None:
    """Anything still running with this project's marker (a safety net)."""
    import os

    marker = f"TURNOUT_STATE_DIR={state_dir}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    os.killpg(int(entry.name), signal.SIGKILL)


def wait_done(api: ControllerClient, deploy_id: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = api.deploy_detail(deploy_id)
        if d["status"] not in ("running", "paused", "rolling_back"):
            return d
        time.sleep(0.1)
    raise SystemFault(f"deploy #{deploy_id} did not finish within {timeout:g}s")


def run_demo(say: Callable[[str], None] = print, pause: float = 1.5) -> DemoRun:
    examples = find_examples()
    with tempfile.TemporaryDirectory(prefix="turnout-demo-builds-") as builds:
        bad = Path(builds) / "v3-bad"
        shutil.copytree(examples / "v3-bad", bad)
        (bad / "release.toml").write_text(
            'name = "shop"\nversion = "v3-bad"\nerror_rate = 1.0\n'
        )  # answers 500: the smoke check catches it
        with project() as (paths, listen):
            return _scenarios(paths, listen, examples, bad, say, pause)


def _scenarios(
    paths: Paths, listen: str, examples: Path, bad: Path, say: Callable[[str], None], pause: float
) -> DemoRun:
    t_load = 0.0
    marks: list[Marker] = []
    scenarios: list[Scenario] = []
    with _client(paths) as api:
        first = api.deploy(str(examples / "v1"), "bluegreen", False)["deploy"]
        wait_done(api, first["id"])
        say(f"deployed v1 ({first['release']}); starting the load on {listen}")
        spec = LoadSpec(port=int(listen.rsplit(":", 1)[1]), duration_s=600, mix=Mix.realistic())
        load = LoadRunner(spec).start()
        try:
            load.wait_for_ok(50, timeout=30)
            t_load = time.time() - load.progress().elapsed_s

            def now() -> float:
                return time.time() - t_load

            def deploy(strategy: str, folder: Path, label: str, to: str) -> None:
                time.sleep(pause)
                start = now()
                say(f"{start:6.1f}s  {label}")
                answer = api.deploy(str(folder), strategy, True)
                d = wait_done(api, answer["deploy"]["id"])
                marks.extend(markers(api.timeline(d["id"])["events"], t_load))
                scenarios.append(Scenario(label, to, start, now(), d, []))
                say(f"{now():6.1f}s  -> {d['status']}: {d.get('message') or ''}")

            deploy("recreate", examples / "v2", "recreate", "v2")
            deploy("rolling", examples / "v1", "rolling", "v1")
            deploy("bluegreen", examples / "v2", "bluegreen", "v2")
            time.sleep(pause)
            start = now()
            say(f"{start:6.1f}s  rollback inside the warm window")
            answer = api.rollback(None)
            d = wait_done(api, answer["deploy"]["id"])
            marks.extend(markers(api.timeline(d["id"])["events"], t_load))
            scenarios.append(Scenario("rollback", "v1", start, now(), d, []))
            say(f"{now():6.1f}s  -> {d['status']}: {d.get('message') or ''}")
            deploy("bluegreen", bad, "bad -> bluegreen", "v3-bad")
            deploy("canary", examples / "v3-bad", "bad -> canary", "v3-bad")
            scenarios[-1].bad = "v3-bad"
            time.sleep(pause)
        finally:
            report = load.stop()
    for s in scenarios:
        s.outcomes = [o for o in report.outcomes if s.started <= o.end < s.ended]
        if s.strategy == "rollback":
            back = [o.end for o in s.outcomes if o.ok and o.release == s.to]
            s.rollback_ms = (min(back) - s.started) * 1000 if back else None
    # On the plot: where each scenario starts, its failures and outcomes (not every step).
    marks = [m for m in marks if m.kind in ("fail", "done")]
    marks += [Marker(s.started, s.strategy, "info") for s in scenarios]
    marks.sort(key=lambda m: m.at)
    return DemoRun(scenarios, report, marks)
