"""The flag store on SQLite and on a real PostgreSQL: versions, audit with diffs, conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from turnout.errors import ConflictError, UserError
from turnout.flags.store import FlagStore, normalize_url

FLAG = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlagStore]:
    if request.param == "sqlite":
        url = normalize_url("sqlite:///flags.db", tmp_path)
    else:
        server = request.getfixturevalue("postgres_server")
        name = request.getfixturevalue("database")
        url = normalize_url(f"postgresql://postgres@127.0.0.1:{server.port}/{name}")
    s = FlagStore(url)
    yield s
    s.close()


def _doc(**flags: Any) -> dict[str, Any]:
    return {"flags": flags}


def test_every_write_is_a_version_with_an_audit_diff(store: FlagStore) -> None:
    assert store.load() == (0, {"flags": {}})
    w1 = store.write(_doc(beta=FLAG), 0, "alice", "set", at=100.0)
    assert (w1.version, w1.changed, w1.flag_versions) == (1, ("beta",), {"beta": 1})
    w2 = store.write(_doc(beta=dict(FLAG, state="DISABLED")), 1, "bob", "disable", at=200.0)
    assert (w2.version, w2.flag_versions) == (2, {"beta": 2})
    assert store.load() == (2, {"flags": {"beta": dict(FLAG, state="DISABLED")}})
    newest, first = store.history("beta")
    assert (newest["version"], newest["user"], newest["action"], newest["at"]) == (
        2,
        "bob",
        "disable",
        200.0,
    )
    assert newest["diff"] == [
        {"op": "change", "path": "state", "old": "ENABLED", "new": "DISABLED"}
    ]
    assert newest["before"]["state"] == "ENABLED" and newest["after"]["state"] == "DISABLED"
    assert first["before"] is None and {c["op"] for c in first["diff"]} == {"add"}
    row = store.flag("beta")
    assert row is not None and (row["version"], row["updated_by"]) == (2, "bob")


def test_a_write_that_changes_nothing_keeps_the_version(store: FlagStore) -> None:
    store.write(_doc(beta=FLAG), 0, "alice", "set")
    again = store.write(_doc(beta=FLAG), 1, "alice", "set")
    assert (again.version, again.changed) == (1, ())
    assert len(store.history()) == 1


def test_delete_and_evaluators_are_audited(store: FlagStore) -> None:
    store.write({"flags": {"a": FLAG, "b": FLAG}}, 0, "alice", "import")
    w = store.write(
        {"flags": {"a": FLAG}, "$evaluators": {"x": {"==": [1, 1]}}}, 1, "bob", "import"
    )
    assert w.changed == ("b",) and w.document_changed
    assert store.flag("b") is None
    entries = store.history()
    assert {e["key"] for e in entries if e["version"] == 2} == {"b", None}
    assert store.load()[1]["$evaluators"] == {"x": {"==": [1, 1]}}


def test_stale_writes_are_conflicts_and_change_nothing(store: FlagStore) -> None:
    store.write(_doc(beta=FLAG), 0, "alice", "set")
    with pytest.raises(ConflictError, match=r"changed meanwhile \(version 1, not 0\)"):
        store.write(_doc(beta=dict(FLAG, state="DISABLED")), 0, "bob", "set")
    with pytest.raises(
        ConflictError, match=r"flag 'beta' is at version 1, not 7 .changed by alice"
    ):
        store.write(_doc(beta=dict(FLAG, state="DISABLED")), 1, "bob", "set", expect={"beta": 7})
    with pytest.raises(ConflictError, match="flag 'beta' already exists"):
        store.write(_doc(beta=FLAG), 1, "bob", "set", expect={"beta": None})
    assert store.load()[0] == 1 and len(store.history()) == 1


def test_urls() -> None:
    assert normalize_url("sqlite:///x.db", Path("/srv")) == "sqlite:////srv/x.db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(UserError, match=r"flags\.database: 'mysql://h/db' is not supported"):
        normalize_url("mysql://h/db")
