"""The contract gate through the control plane (migrations acceptance 4): with
``[migrations] path`` set, `turnout deploy` refuses a release whose new migrations mix
expand and contract, and one that contracts the schema while a release older than the
matching expand still runs (here: kept warm by blue/green); once that release is gone
the same release deploys. A refusal changes nothing. `turnout rollback` refuses to go
back past the contract unless forced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

CREATE = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n"
EXPAND = "ALTER TABLE users ADD COLUMN full_name text;\n"
CONTRACT = (
    "-- turnout: phase=contract expand=0002_expand_full_name\nALTER TABLE users DROP COLUMN name;\n"
)
MIGRATIONS = {
    "0001_users.sql": CREATE,
    "0002_expand_full_name.sql": EXPAND,
    "0003_contract_name.sql": CONTRACT,
}
GATE = """
[migrations]
path = "db/migrations"
lock_timeout_required = false
statement_timeout_required = false
"""


def _release(project: Any, name: str, base: str, count: int) -> Path:
    folder: Path = project.release(base, name=name)
    db = folder / "db" / "migrations"
    db.mkdir(parents=True)
    for file, sql in list(MIGRATIONS.items())[:count]:
        (db / file).write_text(sql)
    return folder


def _running(project: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for inst in project.status()["instances"]:
        if inst["state"] == "running":
            counts[inst["release"]] = counts.get(inst["release"], 0) + 1
    return counts


def _refused(project: Any, *args: str) -> str:
    out = project.turnout(*args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # one line a person can act on
    return lines[0]


def test_contract_waits_for_the_release_older_than_its_expand(project: Any) -> None:
    project.write_config(GATE)
    v1 = _release(project, "v1", "v1", 1)  # creates users
    mixed = _release(project, "mixed", "v2", 3)  # expand and contract in one release
    v2 = _release(project, "v2", "v2", 2)  # the expand
    v3 = _release(project, "v3", "v1", 3)  # the contract
    project.up()
    project.turnout("deploy", str(v1), check=True)
    r1 = project.status()["good"]

    # Expand and contract in one release while v1 runs: refused before anything starts.
    line = _refused(project, "deploy", str(mixed))
    assert "migration gate (mixed-phases)" in line
    assert "mix expand (0002_expand_full_name) and contract (0003_contract_name)" in line
    assert len(project.history()) == 1 and _running(project) == {r1: 2}

    project.turnout("deploy", str(v2), check=True)  # the expand: v1 stays warm
    status = project.status()
    r2 = status["good"]
    assert _running(project) == {r1: 2, r2: 2}
    routes = httpx.get(f"http://{project.admin}/v1/routes").json()
    known = [r["name"] for r in status["releases"]]

    # The contract while v1 (older than the expand) still runs: refused, nothing changed.
    line = _refused(project, "deploy", str(v3))
    assert "migration gate (old-release-running)" in line
    assert (
        "contract migration 0003_contract_name needs every running release to include "
        f"0002_expand_full_name, but {r1} (2 instances, oldest started "
    ) in line
    assert f"{r1} only stays warm for a rollback: 'turnout retire' stops it now" in line
    after = project.status()
    assert after["good"] == r2 and [r["name"] for r in after["releases"]] == known
    assert len(project.history()) == 2 and _running(project) == {r1: 2, r2: 2}
    assert httpx.get(f"http://{project.admin}/v1/routes").json() == routes

    # End v1's warm window; then the same contract release deploys.
    out = project.turnout("retire", check=True)
    assert f"stopped {r1}" in out.stdout
    assert _running(project) == {r2: 2}
    assert "no release runs besides the live one" in project.turnout("retire", check=True).stdout
    project.turnout("deploy", str(v3), check=True)
    r3 = project.status()["good"]
    assert r3 not in (r1, r2) and _running(project) == {r2: 2, r3: 2}

    # Going back to v1 would run code that needs the dropped column: refused;
    # v2 has the expand, so it may take over again (and the warm v2 is retired by name).
    line = _refused(project, "rollback", r1)
    assert "migration gate (contract-applied)" in line and f"{r1} predates 0002" in line
    out = project.turnout("retire", r2, check=True)
    assert f"stopped {r2}" in out.stdout
    line = _refused(project, "retire", r3)
    assert f"{r3} is the live release" in line
    assert _running(project) == {r3: 2}

    # After restoring the schema by hand, an operator may insist.
    project.turnout("rollback", r1, "--force", check=True)
    assert project.status()["good"] == r1
