"""bench/migrations.py runs the corpus through both linters and reports on it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "migrations.py"


def test_bench_compares_turnout_and_squawk() -> None:
    spec = importlib.util.spec_from_file_location("bench_migrations", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_migrations"] = bench
    spec.loader.exec_module(bench)
    if not (shutil.which("squawk") or Path(sys.executable).with_name("squawk").exists()):
        pytest.skip("squawk-cli is not installed (pip install -e '.[test]')")
    result = bench.compare(reps=1, copies=1)
    assert result["turnout_correct"] == result["cases"] >= 150
    assert 0 < result["squawk_correct"] <= result["cases"]
    assert result["agree"] + len(result["differences"]) == result["cases"]
    text = bench.render(result)
    assert f"agreement with the labels: turnout {result['cases']}/{result['cases']}" in text
    assert "statements/s" in text
