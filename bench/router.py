"""Router benchmark: direct vs turnout vs nginx vs HAProxy, one run, loopback, wrk.

    .venv/bin/python bench/router.py            # full run (make bench)
    .venv/bin/python bench/router.py --quick    # smoke run, a few seconds
    .venv/bin/python bench/router.py --json     # machine-readable result on stdout
    .venv/bin/python bench/router.py --profile  # where turnout's router spends its time

Targets, all on 127.0.0.1, all answering with the same small body:

- ``direct``  wrk -> upstream (nginx, 1 worker, fixed 200): the physical limit.
- ``turnout`` wrk -> ``turnout router`` -> upstream.
- ``nginx``   wrk -> nginx (1 worker, upstream keep-alive) -> upstream.
- ``haproxy`` wrk -> HAProxy (nbthread 1, http-reuse always) -> upstream.

Two passes (method and reasons in docs/performance.md):

1. **max**: wrk keep-alive ``-t1 -c50`` as fast as it goes, ``--reps`` rounds with
   the targets in a rotating order; medians of req/s, p50, p99 and of the CPU the
   target's processes use per request.
2. **fixed**: every target at the same fixed rate, by default half of turnout's
   max req/s, paced by a wrk Lua ``delay()`` schedule (Debian's wrk has no ``-R``);
   added p99 = target p99 - direct p99 at that rate.

With two or more CPUs the process under test (the upstream for ``direct``, the
proxy otherwise) is pinned to one core and wrk, with the proxies' upstream, to
another: each proxy gets exactly one core. ``--no-pin`` leaves placement to Linux.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.peers import (  # noqa: E402
    Peer,
    PeerError,
    PeerSet,
    WrkResult,
    cpu_seconds,
    get,
    peer_dir,
    run_wrk,
    start_haproxy,
    start_nginx_proxy,
    start_nginx_static,
    start_turnout_router,
    taskset_prefix,
    turnout_router_available,
)
from support.system import find_program  # noqa: E402

TARGETS = ("direct", "turnout", "nginx", "haproxy")
DESCRIPTIONS = {
    "direct": "wrk -> upstream (nginx, 1 worker, fixed 200 body): the physical limit",
    "turnout": "turnout router (python -m turnout router) -> upstream",
    "nginx": "nginx as proxy (1 worker, upstream keepalive 128) -> upstream",
    "haproxy": "HAProxy as proxy (nbthread 1, http-reuse always) -> upstream",
}
# The goal this bench answers (issue 2, point 4).
GOAL_RPS_VS_NGINX = 0.5
GOAL_ADDED_P99_MS = 1.0
# A fixed-rate run that got less than this share of its rate did not hold the rate.
RATE_REACHED = 0.97
# Median CPU used by other processes during the runs above which the figures are suspect.
NOISY_OTHER_CPUS = 0.1
# --profile: frames in at least this share of the samples are the common call chain.
SPINE_SHARE = 0.9


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- settings


@dataclass
class Layout:
    """Which CPUs the process under test and the load generator run on."""

    sut: list[int] | None
    load: list[int] | None

    def describe(self) -> str:
        if self.sut is None:
            return "not pinned (Linux schedules every process)"
        return (
            f"target under test on CPU {','.join(map(str, self.sut))}; "
            f"wrk and the proxies' upstream on CPU {','.join(map(str, self.load or []))}"
        )


def choose_layout(pin: bool) -> Layout:
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2 or find_program("taskset") is None:
        return Layout(None, None)
    return Layout([cpus[0]], [cpus[1]])


@dataclass
class Settings:
    duration: float
    reps: int
    connections: int
    threads: int
    warmup: float
    fixed: bool
    rate: float | None
    targets: list[str]
    layout: Layout
    quick: bool
    # Runs during which other processes used more CPU than this are redone.
    max_other_load: float = 0.0
    noisy_retries: int = 0
    quiet_wait: float = 0.0


# ---------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    peer: Peer | None = None
    reason: str | None = None
    max_runs: list[Sample] = field(default_factory=list)
    fixed_runs: list[Sample] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.peer is not None


def start_targets(
    workdir: Path, peers: PeerSet, settings: Settings
) -> tuple[dict[str, Target], Peer]:
    sut, load = settings.layout.sut, settings.layout.load
    # Proxies reach this upstream, which shares wrk's core; "direct" gets its own
    # upstream instance (same config) on the core under test.
    upstream = peers.add(start_nginx_static(workdir, cpus=load, name="upstream"))
    targets: dict[str, Target] = {}
    starters: dict[str, Callable[[], Peer]] = {
        "direct": lambda: start_nginx_static(workdir, cpus=sut, name="direct"),
        "turnout": lambda: start_turnout_router(workdir, [upstream.address], cpus=sut),
        "nginx": lambda: start_nginx_proxy(workdir, [upstream.address], cpus=sut),
        "haproxy": lambda: start_haproxy(workdir, [upstream.address], cpus=sut),
    }
    programs = {"direct": "nginx", "nginx": "nginx", "haproxy": "haproxy"}
    for name in settings.targets:
        target = Target(name)
        targets[name] = target
        program = programs.get(name)
        if program and find_program(program) is None:
            target.reason = f"{program} is not installed"
        elif name == "turnout" and (why := turnout_router_available()):
            target.reason = why
        else:
            try:
                peer = peers.add(starters[name]())
                status, body = get(peer.address)
                if status != 200:
                    raise PeerError(f"GET / answered {status}: {body[:200]!r}")
                target.peer = peer
            except (PeerError, OSError) as exc:
                target.reason = f"could not start: {exc}"
        if target.reason:
            log(f"  {name}: not available: {target.reason.splitlines()[0]}")
        else:
            log(f"  {name}: {target.peer.url if target.peer else ''}")
    return targets, upstream


@dataclass
class Sample:
    """One wrk run plus what /proc says about the CPU during it."""

    result: WrkResult
    cpu_us_per_request: float | None
    # CPU used meanwhile by processes that are not ours (other users of the machine),
    # and CPU the hypervisor took away (steal), both in CPUs (1.0 = one whole CPU).
    other_cpus: float
    steal_cpus: float


def _proc_stat() -> tuple[float, float]:
    """(user + nice + system, steal) CPU-seconds of the whole machine so far."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, steal = (int(fields[i]) for i in (0, 1, 2, 7))
    return (user + nice + system) / tick, steal / tick


def _our_cpu(peers: Sequence[Peer]) -> float:
    pids = [pid for peer in peers for pid in peer.pids()]
    user, system = cpu_seconds([*pids, os.getpid()])
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    return user + system + children.ru_utime + children.ru_stime


def measure(
    target: Target,
    settings: Settings,
    rate: float | None,
    duration: float,
    workdir: Path,
    everyone: Sequence[Peer],
) -> Sample:
    """One wrk run against ``target``; also the CPU its processes used per request
    (µs, user + system) and how busy the rest of the machine was, from /proc."""
    assert target.peer is not None
    pids = target.peer.pids()
    before, ours_before, machine_before = cpu_seconds(pids), _our_cpu(everyone), _proc_stat()
    started = time.monotonic()
    result = run_wrk(
        target.peer.url,
        duration=duration,
        connections=settings.connections,
        threads=settings.threads,
        rate=rate,
        cpus=settings.layout.load,
        workdir=workdir,
    )
    wall = time.monotonic() - started
    after, ours_after, machine_after = cpu_seconds(pids), _our_cpu(everyone), _proc_stat()
    cpu = (after[0] - before[0]) + (after[1] - before[1])
    busy = machine_after[0] - machine_before[0]
    other = max(0.0, busy - (ours_after - ours_before)) / wall
    steal = (machine_after[1] - machine_before[1]) / wall
    per_request = cpu / result.requests * 1e6 if result.requests else None
    return Sample(result, per_request, other, steal)


def rotated(names: Sequence[str], i: int) -> list[str]:
    i %= len(names)
    return [*names[i:], *names[:i]]


# -------------------------------------------------------------------- summaries


def median(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def sample_dict(s: Sample) -> dict[str, Any]:
    return {
        **s.result.to_dict(),
        "cpu_us_per_request": s.cpu_us_per_request,
        "other_cpus": s.other_cpus,
        "steal_cpus": s.steal_cpus,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs (``sample_dict`` records) and the total of their errors."""
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(r["errors"])
    out: dict[str, Any] = {
        key: median([r[key] for r in runs])
        for key in (
            "rps",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "cpu_us_per_request",
            "other_cpus",
            "steal_cpus",
        )
    }
    out.update(
        requests=sum(r["requests"] for r in runs),
        errors=sum(errors.values()),
        errors_by_kind=dict(errors),
        runs=runs,
    )
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return a / b


def build_report(
    targets: dict[str, Target], settings: Settings, rate: float | None, rate_basis: str
) -> dict[str, Any]:
    header: dict[str, Any] = {
        "schema": 1,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "settings": {
            "duration_s": settings.duration,
            "reps": settings.reps,
            "connections": settings.connections,
            "threads": settings.threads,
            "warmup_s": settings.warmup,
            "pinning": settings.layout.describe(),
            "quick": settings.quick,
        },
        "fixed_rate": {"rps": rate, "basis": rate_basis} if settings.fixed else None,
    }
    runs = {
        name: {
            "available": t.available,
            "reason": t.reason,
            "max": [sample_dict(s) for s in t.max_runs],
            "fixed": [sample_dict(s) for s in t.fixed_runs],
        }
        for name, t in targets.items()
    }
    return assemble(header, runs)


def assemble(header: dict[str, Any], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report: ``header`` plus, per target, medians and ratios of its runs."""
    out = {**header, "targets": {}}
    rate = (header.get("fixed_rate") or {}).get("rps")
    summaries = {n: summarize(r["max"]) for n, r in runs.items() if r["available"]}
    direct_rps = summaries.get("direct", {}).get("rps")
    nginx_rps = summaries.get("nginx", {}).get("rps")
    fixed = {n: summarize(r["fixed"]) for n, r in runs.items() if r["available"] and r["fixed"]}
    direct_fixed_p99 = fixed.get("direct", {}).get("p99_ms")
    for name, r in runs.items():
        entry: dict[str, Any] = {"description": DESCRIPTIONS[name], "available": r["available"]}
        if not r["available"]:
            entry["reason"] = r["reason"]
        else:
            m = summaries[name]
            m["rps_vs_direct"] = ratio(m["rps"], direct_rps)
            m["rps_vs_nginx"] = ratio(m["rps"], nginx_rps)
            entry["max"] = m
            if name in fixed:
                f = fixed[name]
                f["target_rps"] = rate
                # The paced client fell behind: the target saturated at this rate.
                f["rate_reached"] = bool(rate and f["rps"] and f["rps"] >= RATE_REACHED * rate)
                p99 = f["p99_ms"]
                f["added_p99_ms"] = (
                    None if p99 is None or direct_fixed_p99 is None else p99 - direct_fixed_p99
                )
                entry["fixed"] = f
        out["targets"][name] = entry
    out["goal"] = goal(out["targets"])
    return out


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several saved ``--json`` reports as one: every run pooled, medians again."""
    first = reports[0]
    header = {
        key: first[key] for key in ("schema", "machine", "settings", "fixed_rate") if key in first
    }
    header["settings"] = {**first["settings"], "reps": 0}
    header["date"] = first["date"]
    header["dates"] = [r["date"] for r in reports]
    header["merged_reports"] = len(reports)
    runs: dict[str, dict[str, Any]] = {}
    rates = []
    for report in reports:
        header["settings"]["reps"] += report["settings"]["reps"]
        if report.get("fixed_rate") and report["fixed_rate"].get("rps"):
            rates.append(report["fixed_rate"]["rps"])
        for name, entry in report["targets"].items():
            slot = runs.setdefault(
                name, {"available": False, "reason": entry.get("reason"), "max": [], "fixed": []}
            )
            if entry["available"]:
                slot["available"] = True
                slot["max"] += entry["max"]["runs"]
                slot["fixed"] += entry.get("fixed", {}).get("runs", [])
    if rates and header.get("fixed_rate"):
        header["fixed_rate"] = {
            "rps": median(rates),
            "basis": f"{first['fixed_rate']['basis']}; median of {len(rates)} reports' rates",
        }
    return assemble(header, runs)


def goal(entries: dict[str, Any]) -> dict[str, Any]:
    t, n = entries.get("turnout", {}), entries.get("nginx", {})
    g: dict[str, Any] = {
        "rps_vs_nginx_needed": GOAL_RPS_VS_NGINX,
        "added_p99_ms_below": GOAL_ADDED_P99_MS,
        "rps_vs_nginx": None,
        "rps_ok": None,
        "added_p99_ms": None,
        "latency_ok": None,
    }
    if t.get("available") and n.get("available"):
        r = t["max"]["rps_vs_nginx"]
        g["rps_vs_nginx"] = r
        g["rps_ok"] = None if r is None else r >= GOAL_RPS_VS_NGINX
        # Same-round pairs (the two runs are seconds apart): less exposed to the
        # machine's slow drift than the ratio of the two medians.
        g["rps_vs_nginx_paired"] = _paired(
            t["max"]["runs"], n["max"]["runs"], lambda a, b: a["rps"] / b["rps"]
        )
    d = entries.get("direct", {})
    if t.get("fixed"):
        added = t["fixed"]["added_p99_ms"]
        g["added_p99_ms"] = added
        g["latency_ok"] = None if added is None else added < GOAL_ADDED_P99_MS
        g["added_p50_ms"] = t["fixed"]["p50_ms"] - d["fixed"]["p50_ms"] if d.get("fixed") else None
        if d.get("fixed"):
            g["added_p99_ms_paired"] = _paired(
                t["fixed"]["runs"], d["fixed"]["runs"], lambda a, b: a["p99_ms"] - b["p99_ms"]
            )
    return g


def _paired(
    runs: list[dict[str, Any]],
    others: list[dict[str, Any]],
    fn: Callable[[dict[str, Any], dict[str, Any]], float],
) -> float | None:
    """Median of ``fn(run i, other run i)``: run i of two targets share a round."""
    values = [fn(a, b) for a, b in zip(runs, others, strict=False)]
    return median(values)


def _version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout + p.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine_info() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nginx, haproxy, wrk = (find_program(p) for p in ("nginx", "haproxy", "wrk"))
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": _version([nginx, "-v"]) if nginx else None,
        "haproxy": _version([haproxy, "-v"]) if haproxy else None,
        "wrk": _version([wrk, "-v"]) if wrk else None,
    }


# ------------------------------------------------------------------------ output


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def print_table(report: dict[str, Any]) -> None:
    s = report["settings"]
    print(
        f"turnout router benchmark {report['date']}  ({report['machine']['cpus']} CPUs, "
        f"{report['machine']['cpu_model']})"
    )
    print(
        f"wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']:g}s keep-alive, "
        f"median of {s['reps']} run(s); {s['pinning']}"
    )
    if report.get("merged_reports"):
        print(f"{report['merged_reports']} reports pooled: {', '.join(report['dates'])}")
    print()
    header = (
        f"{'target':<9} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
        f"{'/direct':>8} {'/nginx':>7} {'errors':>7} {'other CPU':>9}"
    )
    print("max throughput")
    print(header)
    for name, e in report["targets"].items():
        if not e["available"]:
            print(f"{name:<9} not available: {str(e['reason']).splitlines()[0]}")
            continue
        m = e["max"]
        print(
            f"{name:<9} {_f(m['rps'], ',.0f'):>9} {_f(m['p50_ms'], '.3f'):>7} "
            f"{_f(m['p99_ms'], '.3f'):>7} {_f(m['cpu_us_per_request'], '.1f'):>10} "
            f"{_f(m['rps_vs_direct'], '.2f'):>8} {_f(m['rps_vs_nginx'], '.2f'):>7} "
            f"{m['errors']:>7} {_f(m['other_cpus'], '.2f'):>9}"
        )
    fr = report["fixed_rate"]
    if fr and fr["rps"]:
        print()
        print(f"fixed rate {fr['rps']:,.0f} req/s ({fr['basis']})")
        print(
            f"{'target':<9} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
            f"{'added p99':>10} {'errors':>7} {'other CPU':>9}"
        )
        for name, e in report["targets"].items():
            if not e["available"] or "fixed" not in e:
                continue
            f = e["fixed"]
            print(
                f"{name:<9} {_f(f['rps'], ',.0f'):>9} {_f(f['p50_ms'], '.3f'):>7} "
                f"{_f(f['p99_ms'], '.3f'):>7} {_f(f['cpu_us_per_request'], '.1f'):>10} "
                f"{_f(f['added_p99_ms'], '+.3f'):>10} {f['errors']:>7} "
                f"{_f(f['other_cpus'], '.2f'):>9}{'' if f['rate_reached'] else '  (rate not held)'}"
            )
    g = report["goal"]
    print()
    if g["rps_vs_nginx"] is None:
        print("goal: turnout vs nginx not measured (a target is not available)")
    else:
        verdict = "holds" if g["rps_ok"] else "MISSED"
        print(
            f"goal: turnout ≥ {GOAL_RPS_VS_NGINX}x nginx req/s: "
            f"{g['rps_vs_nginx']:.2f}x -> {verdict}  "
            f"(median of same-round ratios: {_f(g.get('rps_vs_nginx_paired'), '.2f')}x)"
        )
    if g["added_p99_ms"] is not None:
        verdict = "holds" if g["latency_ok"] else "MISSED"
        print(
            f"goal: added p99 < {GOAL_ADDED_P99_MS} ms at half load: "
            f"{g['added_p99_ms']:+.3f} ms -> {verdict}  "
            f"(same-round pairs: {_f(g.get('added_p99_ms_paired'), '+.3f')} ms; "
            f"added p50: {_f(g.get('added_p50_ms'), '+.3f')} ms)"
        )
    errors = sum(e["max"]["errors"] for e in report["targets"].values() if e["available"])
    other = max(
        (
            e[k]["other_cpus"] or 0.0
            for e in report["targets"].values()
            for k in ("max", "fixed")
            if k in e
        ),
        default=0.0,
    )
    if other > NOISY_OTHER_CPUS:
        print(
            f"warning: other processes used up to {other:.2f} CPU (median per target) during "
            "the runs: the figures are noisier than usual"
        )
    if errors:
        print(f"warning: {errors} failed requests in the max pass (see --json errors_by_kind)")


def print_markdown(report: dict[str, Any]) -> None:
    """The same figures as Markdown tables, for docs/performance.md."""
    s, m = report["settings"], report["machine"]
    dates = report.get("dates") or [report["date"]]
    print(
        f"Measured {', '.join(dates)} on {m['cpus']} CPUs ({m['cpu_model']}, Linux "
        f"{m['kernel']}, Python {m['python']}; {m['nginx']}; {m['haproxy']}; {m['wrk']}). "
        f"wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']:g}s, median of "
        f"{s['reps']} runs per target; {s['pinning']}."
    )
    print()
    print("| target | req/s | p50 ms | p99 ms | CPU µs/req | vs direct | vs nginx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, e in report["targets"].items():
        if not e["available"]:
            print(f"| {name} | not available: {str(e['reason']).splitlines()[0]} ||||||")
            continue
        x = e["max"]
        print(
            f"| {name} | {_f(x['rps'], ',.0f')} | {_f(x['p50_ms'], '.2f')} | "
            f"{_f(x['p99_ms'], '.2f')} | {_f(x['cpu_us_per_request'], '.1f')} | "
            f"{_f(x['rps_vs_direct'], '.2f')}x | {_f(x['rps_vs_nginx'], '.2f')}x |"
        )
    fr = report["fixed_rate"]
    if fr and fr["rps"]:
        print()
        print(f"Fixed rate {fr['rps']:,.0f} req/s ({fr['basis']}):")
        print()
        print("| target | req/s | p50 ms | p99 ms | CPU µs/req | added p50 ms | added p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        direct = report["targets"].get("direct", {}).get("fixed", {})
        for name, e in report["targets"].items():
            if not e["available"] or "fixed" not in e:
                continue
            x = e["fixed"]
            added_p50 = x["p50_ms"] - direct["p50_ms"] if direct else None
            print(
                f"| {name} | {_f(x['rps'], ',.0f')} | {_f(x['p50_ms'], '.2f')} | "
                f"{_f(x['p99_ms'], '.2f')} | {_f(x['cpu_us_per_request'], '.1f')} | "
                f"{_f(added_p50, '+.2f')} | {_f(x['added_p99_ms'], '+.2f')} |"
            )


# ----------------------------------------------------------------------- the run


def run_bench(settings: Settings) -> dict[str, Any]:
    with peer_dir("turnout-bench-") as workdir, PeerSet() as peers:
        log(f"starting peers in {workdir} ({settings.layout.describe()})")
        targets, _upstream = start_targets(workdir, peers, settings)
        live = [n for n in settings.targets if targets[n].available]
        if settings.warmup > 0:
            log(f"warm-up {settings.warmup:g}s each")
            for name in live:
                measure(targets[name], settings, None, settings.warmup, workdir, peers.peers)
        discarded: Counter[str] = Counter()

        def one(kind: str, rep: int, name: str, rate: float | None) -> Sample:
            """A run taken while the rest of the machine was quiet, if it can be had."""
            for attempt in range(settings.noisy_retries + 1):
                wait_until_quiet(settings, peers.peers)
                sample = measure(
                    targets[name], settings, rate, settings.duration, workdir, peers.peers
                )
                log_sample(kind, rep, settings.reps, name, sample)
                noisy = settings.max_other_load and sample.other_cpus > settings.max_other_load
                if not noisy or attempt == settings.noisy_retries:
                    return sample
                discarded[kind] += 1
                log(f"    other processes used {sample.other_cpus:.2f} CPU: run discarded")
            raise AssertionError("unreachable")

        for rep in range(settings.reps):
            for name in rotated(live, rep):
                targets[name].max_runs.append(one("max", rep, name, None))
        rate, basis = fixed_rate(targets, settings)
        if settings.fixed and rate:
            for rep in range(settings.reps):
                for name in rotated(live, rep):
                    targets[name].fixed_runs.append(one("fixed", rep, name, rate))
        report = build_report(targets, settings, rate, basis)
        report["settings"]["discarded_noisy_runs"] = dict(discarded)
        return report


def wait_until_quiet(settings: Settings, peers: Sequence[Peer]) -> None:
    """Wait (up to ``settings.quiet_wait`` s) until processes other than ours use
    less than ``settings.max_other_load`` CPU over a half-second window."""
    if not settings.max_other_load:
        return
    deadline = time.monotonic() + settings.quiet_wait
    said = False
    while True:
        ours, machine, t0 = _our_cpu(peers), _proc_stat(), time.monotonic()
        time.sleep(0.5)
        other = max(0.0, (_proc_stat()[0] - machine[0]) - (_our_cpu(peers) - ours))
        other /= time.monotonic() - t0
        if other <= settings.max_other_load:
            return
        if time.monotonic() > deadline:
            log(f"    machine still busy ({other:.2f} CPU used by others): measuring anyway")
            return
        if not said:
            log(f"    waiting for a quiet machine (others use {other:.2f} CPU)")
            said = True


def log_sample(kind: str, rep: int, reps: int, name: str, s: Sample) -> None:
    r = s.result
    log(
        f"  {kind:<5} {rep + 1}/{reps} {name:<8} {r.rps:>9,.0f} req/s "
        f"p50 {r.p50_ms:.3f} p99 {r.p99_ms:.3f} ms errors {r.error_count} "
        f"cpu {_f(s.cpu_us_per_request, '.1f')} µs/req other-load {s.other_cpus:.2f} CPU"
    )


def fixed_rate(targets: dict[str, Target], settings: Settings) -> tuple[float | None, str]:
    if settings.rate:
        return settings.rate, "set with --rate"
    turnout, nginx = targets.get("turnout"), targets.get("nginx")
    if turnout and turnout.max_runs:
        rps = median([s.result.rps for s in turnout.max_runs])
        if rps:
            return round(rps / 2), "half of turnout's max req/s"
    if nginx and nginx.max_runs:
        rps = median([s.result.rps for s in nginx.max_runs])
        if rps:
            # turnout's goal is half of nginx; half of that goal load.
            return round(rps / 4), "turnout not available: a quarter of nginx's max req/s"
    return None, "no reference target measured"


# ------------------------------------------------------------------------ profile


def run_profile(settings: Settings, top: int, profiler: str, native: bool) -> dict[str, Any]:
    """Load turnout's router with wrk (as fast as it goes, or at ``--rate``) and see where its
    time goes: py-spy sampling the running router (default), or the router run
    under cProfile (``--profiler cprofile``, or when py-spy is missing)."""
    why = turnout_router_available()
    if why:
        return {"profiler": None, "available": False, "reason": why}
    py_spy = find_program("py-spy") or _venv_program("py-spy")
    if profiler == "py-spy" and py_spy is None:
        return {"profiler": "py-spy", "available": False, "reason": "py-spy is not installed"}
    use_py_spy = profiler != "cprofile" and py_spy is not None
    with peer_dir("turnout-profile-") as workdir, PeerSet() as peers:
        upstream = peers.add(start_nginx_static(workdir, cpus=settings.layout.load))
        if use_py_spy:
            assert py_spy is not None
            router = peers.add(
                start_turnout_router(workdir, [upstream.address], cpus=settings.layout.sut)
            )
            target = Target("turnout", router)
            measure(target, settings, None, settings.warmup or 1, workdir, peers.peers)
            stacks, sample, err = _py_spy(py_spy, router, target, settings, workdir, peers, native)
            if stacks is None:
                return {"profiler": "py-spy", "available": False, "reason": err}
            prof = {
                "profiler": "py-spy" + (" --native" if native else ""),
                **top_functions(stacks, top),
            }
        else:
            out = workdir / "cprofile.out"
            router = peers.add(
                start_turnout_router(
                    workdir,
                    [upstream.address],
                    cpus=settings.layout.sut,
                    python_args=["-m", "cProfile", "-o", str(out)],
                )
            )
            target = Target("turnout", router)
            sample = measure(
                target, settings, settings.rate, settings.duration, workdir, peers.peers
            )
            router.stop(sig=signal.SIGINT)
            if not out.exists():
                return {"profiler": "cProfile", "available": False, "reason": router.log_tail()}
            prof = {"profiler": "cProfile (deterministic; inflates call-heavy code)"}
            prof.update(cprofile_top(out, top))
        prof["available"] = True
        prof["load"] = {
            **sample.result.to_dict(),
            "cpu_us_per_request": sample.cpu_us_per_request,
            "other_cpus": sample.other_cpus,
        }
        return prof


def _py_spy(
    py_spy: str,
    router: Peer,
    target: Target,
    settings: Settings,
    workdir: Path,
    peers: PeerSet,
    native: bool,
) -> tuple[list[tuple[list[str], int]] | None, Sample, str]:
    out = workdir / "py-spy.txt"
    argv = [
        *taskset_prefix(settings.layout.load),
        py_spy, "record", "--pid", str(router.pid), "--format", "raw", "--output", str(out),
        "--rate", "100" if native else "500", "--duration", str(max(1, int(settings.duration))),
    ]  # fmt: skip
    # --nonblocking reads the router's memory without pausing it (less overhead);
    # native unwinding needs the process paused.
    argv.append("--native" if native else "--nonblocking")
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)  # attached before the load starts
        sample = measure(target, settings, settings.rate, settings.duration, workdir, peers.peers)
        _, err = spy.communicate(timeout=settings.duration + 30)
    finally:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(10)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
    if not out.exists():
        return None, sample, (err or "").strip() or f"py-spy exited {spy.returncode}"
    return parse_collapsed(out.read_text()), sample, ""


def _venv_program(name: str) -> str | None:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else None


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<where>[^()]*)\)$")


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    """py-spy ``--format raw`` (collapsed stacks: ``f1;f2;f3 COUNT``)."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [_short_frame(f) for f in stack.split(";")]
            stacks.append((frames, int(count)))
    return stacks


def _short_frame(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    where = m["where"]
    # site-packages/foo/bar.py:12 -> foo/bar.py:12 ; drop the line for grouping.
    where = re.sub(r"^.*?(site-packages|lib/python3\.\d+|src)/", "", where)
    where = re.sub(r":\d+$", "", where)
    return f"{m['func']} ({where})"


def top_functions(stacks: list[tuple[list[str], int]], top: int) -> dict[str, Any]:
    total = sum(c for _, c in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames:
            continue
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    # The frames (nearly) every sample starts with -- runpy, the CLI, asyncio.run,
    # uvloop's run -- say nothing as "total"; the deepest of them holds the event
    # loop's own time (uvloop's C code and its system calls) as its self time.
    spine = [f for f, c in inclusive.items() if c >= SPINE_SHARE * total]
    for f in spine:
        del inclusive[f]
    loop_frame = max(spine, key=lambda f: own[f], default=None)
    return {
        "samples": total,
        "event_loop_frame": loop_frame,
        "event_loop_self_pct": 100 * own[loop_frame] / total if loop_frame else None,
        "self": [{"function": f, "pct": 100 * c / total} for f, c in own.most_common(top)],
        "total": [{"function": f, "pct": 100 * c / total} for f, c in inclusive.most_common(top)],
    }


def cprofile_top(path: Path, top: int) -> dict[str, Any]:
    import pstats

    stats = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((f"{func} ({_short_frame(f'x ({file}:{line})')[3:-1]})", nc, tt, ct))
    total = sum(r[2] for r in rows) or 1.0
    by_self = sorted(rows, key=lambda r: r[2], reverse=True)[:top]
    # As for py-spy: the call chain every call runs under says nothing as "total".
    by_cum = sorted(
        (r for r in rows if r[3] < SPINE_SHARE * total), key=lambda r: r[3], reverse=True
    )[:top]
    return {
        "samples": None,
        "self": [{"function": f, "pct": 100 * tt / total, "calls": nc} for f, nc, tt, _ in by_self],
        "total": [{"function": f, "pct": 100 * ct / total, "calls": nc} for f, nc, _, ct in by_cum],
    }


def print_profile(prof: dict[str, Any]) -> None:
    if not prof.get("available"):
        print(f"profile: not available: {prof.get('reason')}")
        return
    load = prof["load"]
    print(
        f"profile of turnout router by {prof['profiler']} under wrk -c{load['connections']}: "
        f"{load['rps']:,.0f} req/s, {_f(load['cpu_us_per_request'], '.1f')} µs CPU/request "
        "(profiler overhead included)"
    )
    if prof.get("event_loop_frame"):
        print(
            f"{prof['event_loop_self_pct']:.1f}% of the samples are in "
            f"{prof['event_loop_frame']} itself: the event loop's C code (uvloop) and the "
            "system calls it makes (epoll_wait, recv, accept); a Python function's self time "
            "includes the C calls it makes (transport.write -> send, the httptools parser)"
        )
    for key, title in (
        ("self", "self time (the function itself)"),
        ("total", "total time (with callees)"),
    ):
        print(f"\ntop by {title}:")
        for row in prof[key]:
            print(f"  {row['pct']:5.1f}%  {row['function']}")


# -------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    p.add_argument(
        "--reps", type=int, default=5, help="runs per target and pass; medians (default 5)"
    )
    p.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    p.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    p.add_argument(
        "--warmup", type=float, default=2.0, help="warm-up seconds per target (default 2)"
    )
    p.add_argument(
        "--rate", type=float, help="req/s of the fixed-rate pass (default: half of turnout's max)"
    )
    p.add_argument("--no-fixed", action="store_true", help="skip the fixed-rate pass")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument(
        "--max-other-load",
        type=float,
        default=0.15,
        help="a run during which other processes used more CPUs than this is redone "
        "(default 0.15; 0 turns the check and the wait for a quiet machine off)",
    )
    p.add_argument("--noisy-retries", type=int, default=3, help="redos of a noisy run (default 3)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait for a quiet machine before a run (default 60)",
    )
    p.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated subset of {','.join(TARGETS)} (default: all)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 s runs, 1 rep, no warm-up")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument(
        "--profile", action="store_true", help="profile turnout's router under load instead"
    )
    p.add_argument("--top", type=int, default=25, help="functions shown by --profile (default 25)")
    p.add_argument(
        "--profiler",
        choices=("auto", "py-spy", "cprofile"),
        default="auto",
        help="--profile: py-spy (sampling, default when installed) or cProfile",
    )
    p.add_argument(
        "--native", action="store_true", help="--profile: py-spy --native (C frames too)"
    )
    p.add_argument(
        "--report",
        nargs="+",
        metavar="FILE",
        help="no run: print the table of saved --json reports (runs pooled, medians again)",
    )
    p.add_argument("--markdown", action="store_true", help="--report: Markdown tables")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.reps, args.warmup, args.max_other_load = 1.0, 1, 0.0, 0.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        log(f"error: unknown target(s): {', '.join(unknown)}")
        return 2
    if "direct" not in targets:
        targets.insert(0, "direct")  # every ratio and the added latency need it
    for program in ("wrk", "nginx"):
        if find_program(program) is None:
            log(f"error: {program} is not installed (make system-deps installs it as root)")
            return 2
    settings = Settings(
        duration=args.duration,
        reps=max(1, args.reps),
        connections=args.connections,
        threads=args.threads,
        warmup=args.warmup,
        fixed=not args.no_fixed,
        rate=args.rate,
        targets=[t for t in TARGETS if t in targets],
        layout=choose_layout(not args.no_pin),
        quick=args.quick,
        max_other_load=args.max_other_load,
        noisy_retries=args.noisy_retries,
        quiet_wait=args.quiet_wait,
    )
    # SIGTERM/SIGHUP end the run like Ctrl-C does, so every peer is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    if args.report:
        report = merge_reports([json.loads(Path(f).read_text()) for f in args.report])
        if args.json:
            print(json.dumps(report, indent=2))
        elif args.markdown:
            print_markdown(report)
        else:
            print_table(report)
        return 0
    if args.profile:
        prof = run_profile(settings, args.top, args.profiler, args.native)
        if args.json:
            print(json.dumps(prof, indent=2))
        else:
            print_profile(prof)
        return 0 if prof.get("available") else 1
    report = run_bench(settings)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
