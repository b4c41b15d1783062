"""``bench/router.py --quick --json``: one short real run of the router benchmark.

Checks what a reader of the bench relies on: every target (direct, turnout, nginx,
HAProxy) was started and served requests without an error in both passes, and the
report carries the figures and ratios docs/performance.md is built from. Speed is
not asserted here; it lives in the bench's own output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.system import require_program, system_required

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "router.py"
TARGETS = ("direct", "turnout", "nginx", "haproxy")

pytestmark = [pytest.mark.slow, pytest.mark.system]


def _run_bench(*args: str, timeout: float = 180) -> dict:
    for program in ("nginx", "haproxy", "wrk"):
        require_program(program)
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


def test_quick_bench_serves_every_target_without_errors() -> None:
    report = _run_bench()

    assert report["machine"]["cpus"] >= 1
    assert report["settings"]["quick"] is True
    assert set(report["targets"]) == set(TARGETS)
    fixed_rate = report["fixed_rate"]["rps"]
    assert fixed_rate > 0

    for name in TARGETS:
        entry = report["targets"][name]
        assert entry["available"], f"{name}: {entry.get('reason')}"
        for kind in ("max", "fixed"):
            part = entry[kind]
            assert part["requests"] > 0, (name, kind)
            assert part["errors"] == 0, (name, kind, part["errors_by_kind"])
            assert part["rps"] > 0
            assert 0 < part["p50_ms"] <= part["p99_ms"]
            assert len(part["runs"]) == report["settings"]["reps"]
        assert entry["max"]["rps_vs_direct"] > 0
        assert entry["max"]["rps_vs_nginx"] > 0
        assert entry["fixed"]["target_rps"] == fixed_rate
        assert entry["fixed"]["added_p99_ms"] is not None

    direct = report["targets"]["direct"]
    assert direct["max"]["rps_vs_direct"] == pytest.approx(1.0)
    assert direct["fixed"]["added_p99_ms"] == pytest.approx(0.0)
    assert report["targets"]["nginx"]["max"]["rps_vs_nginx"] == pytest.approx(1.0)
    goal = report["goal"]
    assert isinstance(goal["rps_ok"], bool)
    assert isinstance(goal["latency_ok"], bool)
    assert goal["rps_vs_nginx"] == pytest.approx(
        report["targets"]["turnout"]["max"]["rps_vs_nginx"]
    )


def test_quick_bench_subset_of_targets() -> None:
    report = _run_bench("--targets", "haproxy", "--no-fixed", "--rate", "1000")
    # "direct" always runs: every ratio is against it.
    assert list(report["targets"]) == ["direct", "haproxy"]
    assert report["fixed_rate"] is None
    assert "fixed" not in report["targets"]["haproxy"]
    assert report["targets"]["haproxy"]["max"]["errors"] == 0


def _require_py_spy() -> None:
    """py-spy comes with the test extras (pip), so it sits next to this python."""
    if (Path(sys.executable).parent / "py-spy").exists():
        return
    reason = "py-spy is not installed (pip install -e '.[test]')"
    if system_required():
        pytest.fail(reason)
    pytest.skip(reason)


def test_profile_names_router_functions() -> None:
    _require_py_spy()
    prof = _run_bench("--profile")
    assert prof["available"], prof.get("reason")
    assert prof["load"]["requests"] > 0
    assert prof["load"]["error_count"] == 0
    functions = [row["function"] for row in prof["self"]]
    assert functions, prof
    # The samples land in the router's own code, not only in the event loop.
    assert any("turnout/router/" in f for f in functions), functions
