"""`turnout demo` (what `make demo` runs): every strategy under one load, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_every_strategy_and_only_recreate_fails_requests(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "demo", "--json", "--pause", "1",
         "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {r["strategy"]: r for r in json.loads(out.stdout)}
    assert list(rows) == [
        "recreate", "rolling", "bluegreen", "rollback", "bad -> bluegreen", "bad -> canary",
    ]  # fmt: skip
    for row in rows.values():
        assert {"strategy", "requests", "failed", "p99_ms", "verdict"} <= set(row)
        assert row["requests"] > 100
    assert rows["recreate"]["failed"] > 0
    assert all(r["failed"] == 0 for name, r in rows.items() if name != "recreate")
    assert rows["rollback"]["rollback_ms"] < 100
    assert rows["bad -> bluegreen"]["verdict"] == "rolled back (smoke_failed)"
    assert rows["bad -> canary"]["verdict"] == "rolled back (analysis_failed)"
    assert rows["bad -> canary"]["failed"] == 0
    assert rows["bluegreen"]["verdict"] == "live"
    png = (tmp_path / "report" / "demo.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert "bad -&gt; canary" in (tmp_path / "report" / "demo.html").read_text()
    assert "Traceback" not in out.stderr
