"""Flag evaluation cost: turnout's SDK against the Python SDKs people would otherwise use.

    .venv/bin/python bench/flags.py            # the table (peers need: pip install -e '.[bench]')
    .venv/bin/python bench/flags.py --json     # every repetition as JSON
    .venv/bin/python bench/flags.py --quick    # a smoke run; figures meaningless

Two flags, the same for every target: **rule** = "country in {US, CA}, then a sticky 50%
rollout by user id, else off", and **static** = always on. 1,000 distinct contexts
(user-0..user-999, countries US/CA/DE/FR in turn) are evaluated in a loop; a
repetition is ``passes`` loops timed with ``time.perf_counter_ns``; the table shows the
median and the minimum of ``--reps`` repetitions in µs per evaluation, and each
target's median as a multiple of turnout's. Targets:

- *hand-written*: dict + frozenset + mmh3, the floor of any evaluator in Python;
- *turnout*: ``Flags.evaluate`` on a compiled flagd document;
- *turnout via OpenFeature*: ``openfeature-sdk`` client -> ``TurnoutProvider``;
- *openfeature in-memory*: ``openfeature-sdk`` with its ``InMemoryProvider`` (the rule as
  a Python ``context_evaluator``);
- *flagd in-process*: ``openfeature-provider-flagd`` in file (in-process) mode, same JSON;
- *growthbook*: one reused ``GrowthBook`` with the rule as a feature (``set_attributes``
  then ``is_on``);
- *unleash*: ``UnleashClient`` bootstrapped offline (no server), ``flexibleRollout`` with
  a country constraint.

OpenFeature contexts are built once per user, outside the timed loop, for every
OpenFeature target alike. A peer that is not installed prints "not installed".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from turnout.flags import Flags

COUNTRIES = ("US", "CA", "DE", "FR")
RULE = {
    "state": "ENABLED",
    "variants": {"on": True, "off": False},
    "defaultVariant": "off",
    "targeting": {
        "if": [
            {"in": [{"var": "country"}, ["US", "CA"]]},
            {"fractional": [["on", 50], ["off", 50]]},
            "off",
        ]
    },
}
STATIC = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}
DOCUMENT = {"flags": {"rule": RULE, "static": STATIC}}
CONTEXTS = [{"targetingKey": f"user-{i}", "country": COUNTRIES[i % 4]} for i in range(1000)]
GOALS = {"rule": 1.0, "static": 0.3}  # µs per evaluation, turnout direct (issue 6)

Evaluate = Callable[[Any], Any]  # one evaluation of a prepared context -> the flag's value
Target = tuple[Callable[[str], Evaluate], list[Any]]  # (flag key -> evaluate, prepared contexts)


# --- targets ------------------------------------------------------------------------------------


def hand_written() -> Target:
    import mmh3

    members = frozenset({"US", "CA"})
    hash32 = mmh3.hash

    def make(key: str) -> Evaluate:
        if key == "static":
            return lambda c: True
        return lambda c: (
            c["country"] in members
            and ((hash32("rule" + c["targetingKey"], 0, False) * 100) >> 32 < 50)
        )

    return make, CONTEXTS


def turnout_direct() -> Target:
    flags = Flags.from_dict(DOCUMENT)
    evaluate = flags.evaluate
    return (lambda key: lambda c: evaluate(key, False, c).value), CONTEXTS


def _of_contexts() -> list[Any]:
    from openfeature.evaluation_context import EvaluationContext

    return [EvaluationContext(c["targetingKey"], {"country": c["country"]}) for c in CONTEXTS]


def turnout_openfeature() -> Target:
    from openfeature import api

    from turnout.flags.openfeature import TurnoutProvider

    api.set_provider(TurnoutProvider(Flags.from_dict(DOCUMENT)), "bench-turnout")
    client = api.get_client("bench-turnout")
    get = client.get_boolean_value
    return (lambda key: lambda c: get(key, False, c)), _of_contexts()


def openfeature_in_memory() -> Target:
    import mmh3
    from openfeature import api
    from openfeature.flag_evaluation import FlagResolutionDetails, Reason
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    members = frozenset({"US", "CA"})

    def rule(flag: Any, ctx: Any) -> Any:
        on = ctx.attributes.get("country") in members and (
            (mmh3.hash("rule" + (ctx.targeting_key or ""), 0, False) * 100) >> 32 < 50
        )
        return FlagResolutionDetails(
            on, variant="on" if on else "off", reason=Reason.TARGETING_MATCH
        )

    provider = InMemoryProvider(
        {
            "rule": InMemoryFlag("off", {"on": True, "off": False}, context_evaluator=rule),
            "static": InMemoryFlag("on", {"on": True, "off": False}),
        }
    )
    api.set_provider(provider, "bench-memory")
    get = api.get_client("bench-memory").get_boolean_value
    return (lambda key: lambda c: get(key, False, c)), _of_contexts()


def flagd_in_process() -> Target:
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType

    path = Path(tempfile.mkdtemp(prefix="bench-flagd-")) / "flags.json"
    path.write_text(json.dumps(DOCUMENT))
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path))
    api.set_provider(provider, "bench-flagd")
    client = api.get_client("bench-flagd")
    deadline = time.monotonic() + 10
    while client.get_boolean_details("static", False).reason != "STATIC":
        if time.monotonic() > deadline:
            raise RuntimeError("the flagd provider did not load the file")
        time.sleep(0.05)
    get = client.get_boolean_value
    return (lambda key: lambda c: get(key, False, c)), _of_contexts()


def growthbook() -> Target:
    from growthbook import GrowthBook

    features = {
        "rule": {
            "defaultValue": False,
            "rules": [
                {
                    "condition": {"country": {"$in": ["US", "CA"]}},
                    "force": True,
                    "coverage": 0.5,
                    "hashAttribute": "id",
                },
            ],
        },
        "static": {"defaultValue": True},
    }
    gb = GrowthBook(features=features)
    contexts = [{"id": c["targetingKey"], "country": c["country"]} for c in CONTEXTS]

    def make(key: str) -> Evaluate:
        def evaluate(attributes: Any) -> Any:
            gb.set_attributes(attributes)
            return gb.is_on(key)

        return evaluate

    return make, contexts


def unleash() -> Target:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    rule = {
        "name": "rule",
        "enabled": True,
        "strategies": [
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "rule"},
                "constraints": [
                    {"contextName": "country", "operator": "IN", "values": ["US", "CA"]}
                ],
            }
        ],
    }
    static = {"name": "static", "enabled": True, "strategies": [{"name": "default"}]}
    cache = FileCache("bench-flags", directory=tempfile.mkdtemp(prefix="bench-unleash-"))
    cache.bootstrap_from_dict({"version": 1, "features": [rule, static]})
    client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="bench",
        cache=cache,
        disable_metrics=True,
        disable_registration=True,
        refresh_interval=3600,
    )
    client.initialize_client(fetch_toggles=False)
    contexts = [
        {"userId": c["targetingKey"], "properties": {"country": c["country"]}} for c in CONTEXTS
    ]
    enabled = client.is_enabled
    return (lambda key: lambda c: enabled(key, c)), contexts


TARGETS: list[tuple[str, str, Callable[[], Target]]] = [
    ("hand-written dict + set + mmh3", "", hand_written),
    ("turnout", "", turnout_direct),
    ("turnout via OpenFeature", "openfeature-sdk", turnout_openfeature),
    ("openfeature-sdk in-memory provider", "openfeature-sdk", openfeature_in_memory),
    ("flagd in-process provider", "openfeature-provider-flagd", flagd_in_process),
    ("growthbook", "growthbook", growthbook),
    ("UnleashClient (offline bootstrap)", "UnleashClient", unleash),
]


# --- measuring ----------------------------------------------------------------------------------


def measure(evaluate: Evaluate, contexts: list[Any], reps: int, budget: float) -> dict[str, Any]:
    """µs per evaluation for ``reps`` repetitions of ``passes`` loops over the contexts."""
    started = time.perf_counter_ns()
    values = [evaluate(c) for c in contexts]  # warm-up, and the outcome for the sanity column
    first = (time.perf_counter_ns() - started) / 1e9
    passes = max(1, int(budget / max(first, 1e-6)))
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(passes):
            for c in contexts:
                evaluate(c)
        runs.append((time.perf_counter_ns() - t0) / (passes * len(contexts)) / 1000)
    return {
        "median_us": statistics.median(runs),
        "min_us": min(runs),
        "runs_us": runs,
        "passes": passes,
        "on_rate": sum(bool(v) for v in values) / len(values),
    }


def run(reps: int, budget: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, package, factory in TARGETS:
        try:
            with contextlib.redirect_stderr(open(os.devnull, "w")):
                make, contexts = factory()
        except ImportError:
            results[name] = {"status": f"not installed (pip install {package})"}
            print(f"{name}: not installed", file=sys.stderr)
            continue
        except Exception as exc:
            results[name] = {"status": f"failed: {exc!r}"}
            print(f"{name}: failed: {exc!r}", file=sys.stderr)
            continue
        results[name] = {"status": "ok"}
        for key in ("rule", "static"):
            results[name][key] = measure(make(key), contexts, reps, budget)
        print(
            f"{name}: rule {results[name]['rule']['median_us']:.3f} µs, "
            f"static {results[name]['static']['median_us']:.3f} µs",
            file=sys.stderr,
        )
    return results


def memory(count: int = 1000) -> dict[str, Any]:
    """Memory held by ``count`` compiled rule flags (definitions, closures, results)."""
    import gc
    import tracemalloc

    document = {"flags": {f"flag-{i}": json.loads(json.dumps(RULE)) for i in range(count)}}
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    flags = Flags.from_dict(document)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    del flags
    return {"flags": count, "bytes": size, "bytes_per_flag": size / count}


def table(results: dict[str, Any]) -> str:
    base = results["turnout"]
    lines = [
        "| evaluator | rule + 50% rollout, µs/eval (min) | x turnout "
        "| static flag, µs/eval (min) | x turnout | rule on-rate |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if name == "memory":
            continue
        if r["status"] != "ok":
            lines.append(f"| {name} | {r['status']} | | | | |")
            continue
        cells = []
        for key in ("rule", "static"):
            m = r[key]
            cells += [
                f"{m['median_us']:.3f} ({m['min_us']:.3f})",
                f"{m['median_us'] / base[key]['median_us']:.1f}x",
            ]
        lines.append(f"| {name} | {' | '.join(cells)} | {r['rule']['on_rate']:.1%} |")
    mem = results.get("memory")
    if mem:
        lines.append(
            f"\nmemory: {mem['bytes'] / 1024:.0f} KiB for {mem['flags']:,} compiled rule "
            f"flags ({mem['bytes_per_flag']:.0f} bytes per flag)"
        )
    for key, goal in GOALS.items():
        got = base[key]["median_us"]
        verdict = "met" if got <= goal else "NOT met"
        lines.append(f"\ngoal turnout {key} ≤ {goal} µs/eval: {got:.3f} µs (median) — {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per repetition")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # peers log warnings about the missing servers
    reps, budget = (2, 0.01) if args.quick else (args.reps, args.budget)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{reps} repetitions of ~{budget}s per target and flag",
        file=sys.stderr,
    )
    results = run(reps, budget)
    results["memory"] = memory()
    if args.json:
        print(
            json.dumps(
                {"python": platform.python_version(), "reps": reps, "results": results}, indent=2
            )
        )
    else:
        print(table(results))


if __name__ == "__main__":
    main()
