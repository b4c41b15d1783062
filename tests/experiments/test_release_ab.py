"""Acceptance 3, end to end: a release-level A/B between two versions of the bundled shop
under load, through the real CLI, controller and router. v2 converts better (15% of its
pages carry ``X-Converted: 1`` against v1's 10%); users keep their cohort by the router's
sticky cookie; the load's clients report exposures and conversions through the HTTP
endpoint; ``turnout experiments results`` names v2 with its interval; nothing fails."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from support.project import Project
from turnout.experiments.beacon import send_outcomes
from turnout.harness import LoadRunner, LoadSpec, Mix

pytestmark = pytest.mark.slow


def test_release_ab_under_load_names_the_better_release(project: Project) -> None:
    v1 = project.release("v1", conversion_rate=0.10)
    project.release("v2", conversion_rate=0.15)
    project.up()
    project.turnout("deploy", str(v1), check=True)
    control = project.status()["good"]

    out = project.turnout("experiments", "start", "shop-ab", "--releases",
                          f"{control}:50,builds/v2:50", "--metric", "conversion", check=True)  # fmt: skip
    assert "shop-ab: running" in out.stdout
    spec = json.loads(project.turnout("experiments", "show", "shop-ab", "--json").stdout)
    treatment = list(spec["weights"])[1]
    assert treatment.startswith("r2-") and next(iter(spec["weights"])) == control

    refused = project.turnout("deploy", "builds/v2")  # it would end the split it measures
    assert refused.returncode == 2
    assert "experiment shop-ab splits traffic" in refused.stderr
    assert "stop it first with 'turnout experiments stop shop-ab'" in refused.stderr

    port = int(project.listen.rsplit(":", 1)[1])
    spec_load = LoadSpec(port=port, duration_s=8, mix=Mix(keepalive=6, newconn=2), users=12_000,
                         requests_per_user=3, cohort_header="x-turnout-cohort")  # fmt: skip
    started = time.time()
    report = LoadRunner(spec_load).start().wait()
    assert report.failed == 0, report.text()
    assert report.share("v1") > 0.3 and report.share("v2") > 0.3
    sent = send_outcomes(project.api, report.outcomes, "shop-ab", "run-1", started)
    assert sent > 5000
    send_outcomes(project.api, report.outcomes, "shop-ab", "run-1", started)  # counted once

    data = json.loads(project.turnout("experiments", "results", "shop-ab", "--json").stdout)
    units = data["exposures"]
    assert set(units) == {control, treatment} and data["conflicts"] == 0
    assert not data["srm"]["alert"], data["srm"]
    assert data["decision"]["winner"] == treatment, data["decision"]
    row = data["comparisons"][0]
    assert row["result"]["ci_low"] > 0
    text = project.turnout("experiments", "results", "shop-ab", check=True).stdout
    assert f"better: {treatment}" in text and "conversion" in text
    print(f"\n{report.text()}\n{text}")  # the figures docs/experiments.md quotes (pytest -s)

    stopped = project.turnout("experiments", "stop", "shop-ab", check=True)
    assert f"everyone is on {control} again" in stopped.stdout
    with httpx.Client() as c:
        assert {c.get(f"http://{project.listen}/").headers["x-release"] for _ in range(10)} == {
            "v1"
        }
