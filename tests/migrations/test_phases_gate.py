"""Phases, the three-deploy plan, and the contract gate (acceptance 4, through the
release store interface)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import lint_sql

from turnout.core.migrations.phases import Phase
from turnout.core.migrations.plan import plan_deploys, render_plan
from turnout.errors import ConflictError
from turnout.migrations.releases import MemoryReleaseStore, check_release, enforce_gate

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

CREATE = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);"
EXPAND = "ALTER TABLE users ADD COLUMN full_name text;"
BACKFILL = "UPDATE users SET full_name = name WHERE full_name IS NULL;"
CONTRACT = "ALTER TABLE users DROP COLUMN name;"


def _history(*sqls: str):
    return [r.phase() for r in lint_sql(*sqls)]


@pytest.mark.parametrize(
    ("sql", "phase"),
    [
        ("ALTER TABLE t ADD COLUMN a text;", Phase.EXPAND),
        ("CREATE INDEX CONCURRENTLY i ON t (a);", Phase.EXPAND),
        ("ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", Phase.EXPAND),
        ("UPDATE t SET a = 1;", Phase.MIGRATE),
        ("INSERT INTO t SELECT * FROM s;", Phase.MIGRATE),
        ("ALTER TABLE t DROP COLUMN a;", Phase.CONTRACT),
        ("ALTER TABLE t RENAME COLUMN a TO b;", Phase.CONTRACT),
        ("ALTER TABLE t ALTER COLUMN a SET NOT NULL;", Phase.CONTRACT),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;", Phase.CONTRACT),
        ("ALTER TABLE t ADD COLUMN b text NOT NULL;", Phase.CONTRACT),
        ("DROP TABLE t;", Phase.CONTRACT),
        (
            "CREATE TABLE n (id bigint); ALTER TABLE n ADD CONSTRAINT c CHECK (id > 0);",
            Phase.EXPAND,
        ),
        ("SET lock_timeout = '1s';", Phase.EXPAND),
        ("CREATE TABLE r (id bigint); INSERT INTO r VALUES (1);", Phase.EXPAND),
    ],
)
def test_inferred_phase(sql: str, phase: Phase) -> None:
    [migration] = _history(sql)
    assert migration.phase is phase
    assert not migration.declared


def test_expand_and_contract_in_one_migration_is_mixed() -> None:
    [migration] = _history(EXPAND + "\n" + CONTRACT)
    assert migration.mixed and migration.phase is Phase.CONTRACT
    assert migration.reasons == (
        "line 1: adds column users.full_name (expand)",
        "line 2: drops column users.name (contract)",
    )


def test_declared_phase_and_expand_win() -> None:
    [migration] = _history(
        "-- turnout: phase=contract expand=m1\nALTER TABLE users ADD COLUMN x text;"
    )
    assert (migration.phase, migration.declared, migration.expand) == (Phase.CONTRACT, True, "m1")


def test_plan_is_three_deploys_with_the_gate_on_the_contract() -> None:
    history = _history(CREATE, EXPAND, BACKFILL, CONTRACT)
    steps = plan_deploys(history[1:], history)
    assert [(s.phase, [m.id for m in s.migrations]) for s in steps] == [
        (Phase.EXPAND, ["m2"]),
        (Phase.MIGRATE, ["m3"]),
        (Phase.CONTRACT, ["m4"]),
    ]
    assert steps[2].waits_for == ("m2",)
    text = render_plan(steps)
    assert "deploy 3 — contract" in text
    assert "gate: every running release must include m2" in text


def _store() -> MemoryReleaseStore:
    store = MemoryReleaseStore()
    store.add_release("v1", ["m1"])
    store.add_release("v2", ["m1", "m2", "m3"])
    store.add_release("v3", ["m1", "m2", "m3", "m4"])
    return store


def test_gate_refuses_contract_while_a_release_older_than_the_expand_runs_then_allows() -> None:
    history = _history(CREATE, EXPAND, BACKFILL, CONTRACT)
    store = _store()
    store.start_instance("v1", "v1-a", T0)
    store.start_instance("v1", "v1-b", T0 + timedelta(seconds=5))
    store.start_instance("v2", "v2-a", T0 + timedelta(hours=1))

    # Deploying v2: the expand and the backfill may run while v1 serves traffic.
    assert check_release(store, history[:3], applied={"m1"}).allowed

    # Deploying v3 (the contract) while v1 instances still run: refused.
    decision = check_release(store, history, applied={"m1", "m2", "m3"})
    assert not decision.allowed and decision.reason == "old-release-running"
    assert [(b.release, b.instance, b.expand) for b in decision.blockers] == [
        ("v1", "v1-a", "m2"),
        ("v1", "v1-b", "m2"),
    ]
    assert "v1 (2 instances, oldest started 2025-03-01T12:00:00+00:00)" in decision.message
    with pytest.raises(ConflictError, match="migration gate \\(old-release-running\\)"):
        enforce_gate(store, history, applied={"m1", "m2", "m3"})

    # Once v1 is gone, the same contract is allowed.
    store.stop_instance("v1-a")
    assert not check_release(store, history, applied={"m1", "m2", "m3"}).allowed
    store.stop_instance("v1-b")
    assert enforce_gate(store, history, applied={"m1", "m2", "m3"}).allowed


def test_release_with_unknown_migrations_counts_as_old() -> None:
    history = _history(CREATE, EXPAND, CONTRACT)
    store = MemoryReleaseStore()
    store.add_release("legacy", None)
    store.start_instance("legacy", "l-1", T0)
    decision = check_release(store, history, applied={"m1", "m2"})
    assert decision.reason == "old-release-running"


def _running_v1() -> MemoryReleaseStore:
    store = MemoryReleaseStore()
    store.add_release("v1", ["m1"])
    store.start_instance("v1", "v1-a", T0)
    return store


def test_release_mixing_expand_and_contract_is_refused() -> None:
    history = _history(CREATE, EXPAND, CONTRACT)
    decision = check_release(_running_v1(), history, applied={"m1"})
    assert (decision.allowed, decision.reason) == (False, "mixed-phases")
    assert "mix expand (m2) and contract (m3)" in decision.message
    [mixed] = _history(EXPAND + "\n" + CONTRACT)
    decision = check_release(_running_v1(), [mixed], applied=set())
    assert decision.reason == "mixed-phases" and "split it" in decision.message


def test_with_nothing_running_the_whole_history_may_run() -> None:
    # A first deploy (or one after `turnout down`) applies every migration, expand and
    # contract alike: no old release is there to meet the new shape.
    history = _history(CREATE, EXPAND, CONTRACT)
    decision = check_release(MemoryReleaseStore(), history, applied=set())
    assert decision.allowed and "no release is running" in decision.message
    [mixed] = _history(EXPAND + "\n" + CONTRACT)
    assert check_release(MemoryReleaseStore(), [mixed], applied=set()).allowed


def test_matching_expand_is_the_last_expand_on_the_same_table() -> None:
    history = _history(
        CREATE,
        EXPAND,
        "CREATE TABLE audit (id bigint PRIMARY KEY);",
        CONTRACT,
    )
    store = MemoryReleaseStore()
    store.add_release("v2", ["m1", "m2"])  # built with the users expand, not the audit table
    store.start_instance("v2", "v2-a", T0)
    assert check_release(store, history, applied={"m1", "m2", "m3"}).allowed


def test_declared_expand_that_does_not_exist_is_refused() -> None:
    history = _history(CREATE, "-- turnout: phase=contract expand=m9\n" + CONTRACT)
    decision = check_release(MemoryReleaseStore(), history, applied={"m1"})
    assert decision.reason == "unknown-expand" and "expand=m9" in decision.message


def test_start_instance_of_unknown_release_is_an_error() -> None:
    from turnout.errors import UserError

    with pytest.raises(UserError, match="unknown release 'v9'"):
        MemoryReleaseStore().start_instance("v9", "x", T0)
