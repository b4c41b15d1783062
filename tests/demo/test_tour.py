"""`turnout demo` (what `make demo` runs): a real switch under load, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_switches_releases_under_load_without_failures():
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "demo", "--json", "--before", "1.5", "--after", "1.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    [result] = json.loads(out.stdout)
    assert result["strategy"] == "switch"
    assert result["failed"] == 0 and result["verdict"] == "ok"
    assert result["requests"] > 500
    assert set(result["ok_by_release"]) == {"v1", "v2"}
    assert result["drain"]["drained"] is True
    assert isinstance(result["p99_ms"], float)
    assert "switch acknowledged" in out.stderr
