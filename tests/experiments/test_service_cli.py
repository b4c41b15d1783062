"""The experiment service in a real controller, driven by the real CLI and the SDK:
define, assign and track, idempotent ingestion, results, the re-weighting preview."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from support.project import Project
from support.system import free_port
from turnout.experiments import Experiments

SPEC = {
    "key": "checkout",
    "variants": {"control": 50, "treatment": 50},
    "metrics": ["purchase", {"name": "revenue", "kind": "mean", "event": "purchase"}],
    "guardrails": [{"name": "error", "goal": "decrease"}],
}


TOKEN = "ingest-s3cret"
CONFIG = f"""
[experiments]
ingest_token = "{TOKEN}"

[experiments.from-config]
variants = {{ a = 1, b = 3 }}
metrics = ["signup"]
method = "bayesian"
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("experiments")
    p = Project(root / "shop", f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}",
                f"127.0.0.1:{free_port()}")  # fmt: skip
    p.root.mkdir()
    p.write_config(extra=CONFIG)
    p.up()
    try:
        yield p
    finally:
        p.teardown()


def test_define_assign_track_and_read_the_results(running: Project) -> None:
    path = running.root / "checkout.json"
    path.write_text(json.dumps(SPEC))
    out = running.turnout("experiments", "define", str(path), "--start", check=True)
    assert "checkout: defined (running), split control 50% / treatment 50%" in out.stdout
    rng = random.Random(5)
    with Experiments.connect(f"http://{running.api}", TOKEN, flush_interval=0.2) as exp:
        seen = {}
        for i in range(3000):
            unit = f"user-{i}"
            variant = exp.assign("checkout", unit)
            assert exp.assign("checkout", unit) == variant  # sticky (and exposed once)
            seen[unit] = variant
            if rng.random() < (0.10 if variant == "control" else 0.16):
                exp.track(unit, "purchase", 20.0)
        assert exp.flush(20)
        assert exp.queued == 0 and exp.sent > 3000
    assert set(seen.values()) == {"control", "treatment"}
    data = json.loads(running.turnout("experiments", "results", "checkout", "--json").stdout)
    assert sum(data["exposures"].values()) == 3000
    assert data["srm"]["alert"] is False
    purchase = next(r for r in data["comparisons"] if r["metric"] == "purchase")
    assert 0.3 < purchase["result"]["lift"] < 0.9
    assert purchase["result"]["ci_low"] > 0 and data["decision"]["winner"] == "treatment"
    text = running.turnout("experiments", "results", "checkout", check=True).stdout
    assert "better: treatment" in text and "purchase" in text
    listed = running.turnout("experiments", "list", check=True).stdout
    assert "checkout" in listed and "running" in listed


def test_ingestion_is_idempotent_by_event_id_over_http(running: Project) -> None:
    url = f"http://{running.api}/v1/experiments/events"
    batch = {"events": [
        {"type": "exposure", "experiment": "checkout", "unit": "http-1", "variant": "control"},
        {"type": "event", "id": "http-e1", "unit": "http-1", "name": "purchase", "value": 5},
        {"type": "event", "id": "http-e1", "unit": "http-1", "name": "purchase", "value": 5},
    ]}  # fmt: skip
    refused = httpx.post(url, json=batch, timeout=10)
    assert refused.status_code == 401 and "ingest_token" in refused.json()["error"]
    auth = {"Authorization": f"Bearer {TOKEN}"}  # not the controller's token
    first = httpx.post(url, json=batch, headers=auth, timeout=10).json()
    assert (first["accepted"], first["duplicates"]) == (2, 1)
    again = httpx.post(url, json=batch, headers=auth, timeout=10).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    bad = httpx.post(url, json={"events": "x"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and "events" in bad.json()["error"]


def test_the_cli_says_how_many_units_a_new_split_moves_before_applying(running: Project) -> None:
    before = json.loads(running.turnout("experiments", "show", "checkout", "--json").stdout)
    exposed = sum(before["exposures"].values())
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "experiments", "weights", "checkout",
         "control:60,treatment:40", "-c", str(running.config)],
        input="", capture_output=True, text=True, timeout=60, cwd=running.root,
    )  # fmt: skip
    assert out.returncode == 1 and "not applied: no terminal to ask; add --yes" in out.stderr
    line = out.stdout.splitlines()[0]
    assert line.startswith("this re-assigns 10.0% of units (10.0% treatment -> control); ")
    moving = int(line.split("; ")[1].split(" of the ")[0])
    assert abs(moving - 0.1 * exposed) < 0.03 * exposed  # the exposed units that would move
    assert "the analysis restarts with a new phase" in line
    unchanged = json.loads(running.turnout("experiments", "show", "checkout", "--json").stdout)
    assert unchanged["weights"] == {"control": 50, "treatment": 50} and unchanged["phase"] == 1
    done = running.turnout("experiments", "weights", "checkout", "control:60,treatment:40", "--yes")
    assert done.returncode == 0 and "(phase 2)" in done.stdout
    after = json.loads(running.turnout("experiments", "show", "checkout", "--json").stdout)
    assert after["weights"] == {"control": 60, "treatment": 40} and after["exposures"] == {}


def test_errors_name_what_is_wrong(running: Project) -> None:
    out = running.turnout("experiments", "start", "x", "--variants", "a:50", "--metric", "buy")
    assert out.returncode == 2
    assert "--variants: give at least two NAME:WEIGHT pairs" in out.stderr
    out = running.turnout("experiments", "start", "y", "--variants", "on:1,off:1", "--flag",
                          "nope", "--metric", "buy")  # fmt: skip
    assert out.returncode == 2 and "no flag 'nope'" in out.stderr
    out = running.turnout("experiments", "results", "missing")
    assert out.returncode == 2
    assert "no experiment 'missing'; experiments: from-config, checkout" in out.stderr
    out = running.turnout("experiments", "start", "checkout")
    assert out.returncode == 2 and "already running" in out.stderr


def test_stop_freezes_the_results(running: Project) -> None:
    out = running.turnout("experiments", "stop", "checkout", check=True)
    assert out.stdout.startswith("checkout: stopped;")
    late = {"events": [{"type": "exposure", "experiment": "checkout", "unit": "late",
                        "variant": "control"}]}  # fmt: skip
    answer = httpx.post(f"http://{running.api}/v1/experiments/events", json=late,
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)  # fmt: skip
    assert answer.json()["rejected"][0]["error"] == "experiment 'checkout' is not running"
    report = running.turnout("experiments", "results", "checkout", "--report", check=True)
    assert "experiment-checkout.html" in report.stdout
    assert (running.state_dir / "reports" / "experiment-checkout.png").stat().st_size > 5000


def test_experiments_declared_in_the_config_exist_after_up(running: Project) -> None:
    shown = json.loads(running.turnout("experiments", "show", "from-config", "--json").stdout)
    assert shown["status"] == "draft" and shown["weights"] == {"a": 1, "b": 3}
    assert shown["spec"]["method"] == "bayesian"
    counts = {"a": 0, "b": 0}
    for slot_owner in shown["layout"]:
        counts[slot_owner[2]] += slot_owner[1] - slot_owner[0]
    assert counts == {"a": 2500, "b": 7500}
