"""Zero-downtime benchmark: the same load against every way of replacing v1 with v2.

    .venv/bin/python bench/zero_downtime.py [--json] [--before S] [--after S]

Each scenario runs on loopback with fresh processes, under the same mix of
clients (keep-alive, new connection per request, POSTs with bodies checked byte
for byte, slow 1-2 s requests), and reports what the clients saw: requests,
failed requests by kind, and the longest gap between successful responses.

- naive restart: turnout's router in front of one app process, which is stopped
  (SIGTERM) and started again on the same port;
- nginx reload: nginx in front of v1, reloaded (SIGHUP) with a config pointing at v2;
- HAProxy reload: HAProxy (master-worker) in front of v1, reloaded (SIGUSR2) for v2;
- turnout recreate / rolling / bluegreen: ``turnout deploy`` of v2 with each strategy.

Needs nginx and haproxy (Debian packages); a missing one is reported, not fatal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.apps import start_demo  # noqa: E402
from support.peers import (  # noqa: E402
    PeerError,
    reload_haproxy,
    reload_nginx,
    start_haproxy,
    start_nginx_proxy,
)
from support.project import Project  # noqa: E402
from support.router import one_pool, start_router  # noqa: E402
from support.system import find_program, free_port  # noqa: E402
from turnout.harness import LoadRunner, LoadSpec  # noqa: E402
from turnout.harness.report import Report  # noqa: E402
from turnout.harness.spec import (  # noqa: E402
    KeepAliveClients,
    Mix,
    NewConnectionClients,
    PostClients,
    SlowClients,
)

MIX = Mix(
    keepalive=KeepAliveClients(concurrency=4, rate=300),
    newconn=NewConnectionClients(concurrency=2, rate=80),
    post=PostClients(concurrency=2, rate=60, body_bytes=8192),
    slow=SlowClients(concurrency=2, min_ms=1000, max_ms=2000),
)


def loaded(port: int, action: Callable[[], None], before: float, after: float) -> Report:
    """Run ``action`` under the load; the load starts ``before`` s earlier and goes on
    ``after`` s later."""
    with LoadRunner(LoadSpec(port=port, duration_s=300, mix=MIX)) as load:
        load.wait_for_ok(50, timeout=30)
        time.sleep(before)
        action()
        time.sleep(after)
        return load.stop()


def naive_restart(tmp: Path, before: float, after: float) -> Report:
    app = start_demo("--drain-ms", "300", release="v1")
    router = start_router(tmp / "router")
    try:
        router.put_routes(one_pool(app.address))
        holder: dict[str, Any] = {}

        def restart() -> None:
            app.terminate()  # SIGTERM: the app drains 300 ms, then stops ...
            app.wait(15)
            holder["new"] = start_demo(port=app.port, release="v2")  # ... then starts again

        report = loaded(router.port, restart, before, after)
        if "new" in holder:
            holder["new"].stop()
        return report
    finally:
        router.kill()
        app.stop()


def proxy_reload(kind: str, tmp: Path, before: float, after: float) -> Report:
    v1 = start_demo(release="v1")
    v2 = start_demo(release="v2")
    starter = start_nginx_proxy if kind == "nginx" else start_haproxy
    reloader = reload_nginx if kind == "nginx" else reload_haproxy
    peer = starter(tmp, [v1.address])
    try:
        port = int(peer.address.rsplit(":", 1)[1])
        return loaded(port, lambda: reloader(peer, [v2.address]), before, after)
    finally:
        peer.stop()
        v1.stop()
        v2.stop()


@contextlib.contextmanager
def turnout_project(tmp: Path) -> Iterator[Project]:
    p = Project(
        tmp / "shop", f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}",
        f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    p.root.mkdir(parents=True)
    p.write_config()
    try:
        yield p
    finally:
        p.teardown()


def turnout_strategy(strategy: str, tmp: Path, before: float, after: float) -> Report:
    with turnout_project(tmp) as p:
        text = p.config.read_text().replace('strategy = "bluegreen"', f'strategy = "{strategy}"')
        p.config.write_text(text)
        v1, v2 = p.release("v1"), p.release("v2")
        p.up()
        p.turnout("deploy", str(v1), check=True)
        port = int(p.listen.rsplit(":", 1)[1])
        return loaded(port, lambda: p.turnout("deploy", str(v2), check=True), before, after)


def row(name: str, report: Report | None, note: str = "") -> dict[str, Any]:
    if report is None:
        return {"scenario": name, "available": False, "note": note}
    s = report.summary
    return {
        "scenario": name,
        "available": True,
        "requests": s.sent,
        "failed": s.failed,
        "failed_by_kind": s.failed_by_kind,
        "longest_gap_ms": round(s.longest_gap.seconds * 1000) if s.longest_gap else None,
        "p99_ms": round(s.latency.p99, 2) if s.latency else None,
        "note": note,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=2.0, help="load seconds before the change")
    parser.add_argument("--after", type=float, default=3.0, help="load seconds after the change")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args()
    b, a = args.before, args.after
    scenarios: list[tuple[str, Callable[[Path], Report], str | None]] = [
        ("naive restart behind the router", lambda t: naive_restart(t, b, a), None),
        ("nginx reload (new upstream)", lambda t: proxy_reload("nginx", t, b, a), "nginx"),
        ("HAProxy reload (new upstream)", lambda t: proxy_reload("haproxy", t, b, a), "haproxy"),
        ("turnout recreate", lambda t: turnout_strategy("recreate", t, b, a), None),
        ("turnout rolling", lambda t: turnout_strategy("rolling", t, b, a), None),
        ("turnout bluegreen", lambda t: turnout_strategy("bluegreen", t, b, a), None),
    ]
    only = set(args.only.split(",")) if args.only else None
    rows = []
    for name, run, program in scenarios:
        if only and not any(o in name for o in only):
            continue
        if program and find_program(program) is None:
            rows.append(row(name, None, f"{program} is not installed"))
            continue
        print(f"running: {name}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="turnout-zd-") as tmp:
            try:
                rows.append(row(name, run(Path(tmp))))
            except (PeerError, AssertionError, TimeoutError) as exc:
                rows.append(row(name, None, f"could not run: {exc}"))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'scenario':34} {'requests':>9} {'failed':>7} {'longest gap':>12}  failures")
    for r in rows:
        if not r["available"]:
            print(f"{r['scenario']:34} {'-':>9} {'-':>7} {'-':>12}  {r['note']}")
            continue
        gap = f"{r['longest_gap_ms']} ms" if r["longest_gap_ms"] is not None else "-"
        kinds = ", ".join(f"{k} {n}" for k, n in r["failed_by_kind"].items())
        print(f"{r['scenario']:34} {r['requests']:>9} {r['failed']:>7} {gap:>12}  {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
