"""bench/zero_downtime.py runs its scenarios and reports them in one table (no speed asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.system import require_program

BENCH = Path(__file__).resolve().parents[2] / "bench" / "zero_downtime.py"


@pytest.mark.slow
def test_naive_restart_fails_requests_and_bluegreen_does_not():
    require_program("nginx")
    out = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--before", "1", "--after", "2",
         "--only", "naive,nginx,bluegreen"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["scenario"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {
        "naive restart behind the router", "nginx reload (new upstream)", "turnout bluegreen",
    }  # fmt: skip
    assert all(r["available"] for r in rows.values()), rows
    naive = rows["naive restart behind the router"]
    assert naive["failed"] > 0 and naive["longest_gap_ms"] > 300
    assert rows["turnout bluegreen"]["failed"] == 0
    assert rows["nginx reload (new upstream)"]["requests"] > 100
