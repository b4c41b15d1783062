"""The gate as the controller runs it: migrations read from release folders, running
releases from instance records, pending = what the new release adds to the live one."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.controller.migrations import MigrationGate, StoreReleases
from turnout.core.records import InstanceRecord
from turnout.errors import ConflictError

FILES = {
    "0001_users.sql": "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n",
    "0002_expand.sql": "ALTER TABLE users ADD COLUMN full_name text;\n",
    "0003_contract.sql": "ALTER TABLE users DROP COLUMN name;\n",
}
TABLE = {"path": "db", "lock_timeout_required": False, "statement_timeout_required": False}


def _release(root: Path, name: str, count: int) -> Path:
    folder = root / name
    (folder / "db").mkdir(parents=True)
    for file, sql in list(FILES.items())[:count]:
        (folder / "db" / file).write_text(sql)
    return folder


def _inst(release: str, n: int, state: str = "running") -> InstanceRecord:
    return InstanceRecord(
        id=f"{release}-{n}", release=release, deploy_id=1, group="main", port=9000 + n,
        pid=100 + n, start_ticks=1, state=state, exit_code=None,  # type: ignore[arg-type]
        started_at=1_700_000_000.0 + n, stopped_at=None, log_path="/dev/null",
    )  # fmt: skip


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    return {
        "r1": _release(tmp_path, "r1", 1),
        "r2": _release(tmp_path, "r2", 2),
        "r3": _release(tmp_path, "r3", 3),
    }


def test_off_without_a_configured_folder(tmp_path: Path) -> None:
    assert not MigrationGate({}, tmp_path).enabled
    assert MigrationGate(TABLE, tmp_path).enabled


def test_release_migrations_are_read_from_its_folder(folders: dict[str, Path]) -> None:
    gate = MigrationGate(TABLE, folders["r1"].parent)
    assert [m.id for m in gate.migrations_in(folders["r3"]) or []] == [Path(f).stem for f in FILES]
    bare = folders["r1"].parent / "bare"
    bare.mkdir()
    assert gate.migrations_in(bare) == []  # no migrations folder: none
    assert gate.migrations_in(bare / "pruned") is None  # release folder gone: unknown


def test_contract_waits_for_every_instance_of_the_old_release(folders: dict[str, Path]) -> None:
    gate = MigrationGate(TABLE, folders["r1"].parent)
    instances = [_inst("r1", 1), _inst("r1", 2, "stopping"), _inst("r2", 3)]
    releases = StoreReleases(instances, folders, gate.migrations_in)
    decision = gate.check_deploy(folders["r3"], folders["r2"], releases)
    assert (decision.allowed, decision.reason) == (False, "old-release-running")
    assert [b.instance for b in decision.blockers] == ["r1-1", "r1-2"]
    assert gate.explain(decision, "r2").endswith(
        "r1 only stays warm for a rollback: 'turnout retire' stops it now"
    )

    gone = [_inst("r1", 1, "exited"), _inst("r2", 3)]
    decision = gate.check_deploy(
        folders["r3"], folders["r2"], StoreReleases(gone, folders, gate.migrations_in)
    )
    assert decision.allowed


def test_pending_is_what_the_new_release_adds_to_the_live_one(folders: dict[str, Path]) -> None:
    gate = MigrationGate(TABLE, folders["r1"].parent)
    skip = _release(folders["r1"].parent, "skip", 3)
    (skip / "db" / "0002_expand.sql").unlink()  # 0003 without its expand in this release
    (skip / "db" / "0003_contract.sql").write_text(
        "-- turnout: phase=contract expand=0001_users\n" + FILES["0003_contract.sql"]
    )
    releases = StoreReleases([_inst("r1", 1)], folders, gate.migrations_in)
    decision = gate.check_deploy(folders["r3"], folders["r1"], releases)
    assert decision.reason == "mixed-phases"  # 0002 and 0003 both pending over r1
    decision = gate.check_deploy(skip, folders["r1"], releases)
    assert decision.allowed  # r1 has 0001_users, the declared expand


def test_unknown_release_folder_counts_as_predating_everything(folders: dict[str, Path]) -> None:
    gate = MigrationGate(TABLE, folders["r1"].parent)
    releases = StoreReleases([_inst("r0", 1), _inst("r2", 2)], folders, gate.migrations_in)
    decision = gate.check_deploy(folders["r3"], folders["r2"], releases)
    assert decision.reason == "old-release-running"
    assert {b.release for b in decision.blockers} == {"r0"}


def test_rollback_past_a_contract_is_refused(folders: dict[str, Path]) -> None:
    gate = MigrationGate(TABLE, folders["r1"].parent)
    with pytest.raises(ConflictError, match=r"contract-applied\): r1 predates 0002_expand"):
        gate.check_rollback("r1", folders["r1"], folders["r3"])
    gate.check_rollback("r2", folders["r2"], folders["r3"])  # has the expand: allowed
    gate.check_rollback("r1", folders["r1"], folders["r2"])  # nothing contracted yet


def test_alembic_project_inside_releases(tmp_path: Path) -> None:
    import shutil

    sample = Path(__file__).parent / "alembic_sample"
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(sample, new / "alembic")
    shutil.copytree(sample, old / "alembic")
    (old / "alembic" / "versions" / "0003_account_email.py").unlink()
    gate = MigrationGate({"alembic": "alembic"}, tmp_path)
    phases = gate.migrations_in(new) or []
    assert [(m.id, m.phase.label) for m in phases][-1] == ("0003", "expand")
    assert [m.id for m in gate.migrations_in(old) or []] == ["0001", "0002"]
    releases = StoreReleases([_inst("old", 1)], {"old": old}, gate.migrations_in)
    decision = gate.check_deploy(new, old, releases)
    assert decision.allowed  # 0003 adds a column: an expand, safe beside the old release
