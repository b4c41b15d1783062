"""Acceptance 2 (lock claims): every corpus case runs against real PostgreSQL, and after
each statement the locks, rewrites and scans turnout's model claims are compared with
what the server did (pg_locks, relfilenode, pg_stat_xact_user_tables).

A claim of ACCESS EXCLUSIVE must show up in pg_locks, and no stronger lock than
claimed may appear; REWRITE means a new relfilenode; SCAN means a sequential scan
without one; a catalog-only change means neither. Any lock of SHARE UPDATE EXCLUSIVE
or stronger, and any rewrite, that the model did not claim fails the case too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from corpus import SCHEMA, Case, load_cases
from lintcase import case_facts, lint_case
from observe import Snapshot, index_table, snapshot, table_oids
from pglast import ast

from turnout.core.migrations.lint import AnalyzedStatement
from turnout.core.migrations.locks import Cause, Effect, LockMode, Work

pytestmark = [pytest.mark.slow, pytest.mark.system]

CASES = load_cases()
FIXTURE_TABLES = sorted(t.name for t in case_facts(CASES[0]).tables)


def _skip_reason(case: Case) -> str | None:
    if case.pg.startswith("skip"):
        return case.pg.removeprefix("skip").strip()
    version = case.settings.get("postgres_version")
    if version and int(version) < 12:
        return f"the claim is about PostgreSQL {version}; the test server is newer"
    return None


def _needs_fresh_database(statements: list[AnalyzedStatement]) -> bool:
    for s in statements:
        node = s.node
        if isinstance(node, (ast.TransactionStmt, ast.VacuumStmt, ast.DropdbStmt)):
            return True
        if getattr(node, "concurrent", False):
            return True
        if isinstance(node, ast.ReindexStmt) and any(
            p.defname == "concurrently" for p in node.params or ()
        ):
            return True
    return False


@pytest.fixture(scope="module")
def template(postgres_server: Any) -> Iterator[str]:
    with postgres_server.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS corpus_template")
        conn.execute("CREATE DATABASE corpus_template")
    with postgres_server.connect("corpus_template") as conn:
        conn.execute(SCHEMA.read_text())
        conn.execute("ANALYZE")
    yield "corpus_template"


@pytest.fixture(scope="module")
def shared_db(postgres_server: Any, template: str) -> str:
    with postgres_server.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS corpus_shared")
        conn.execute(f"CREATE DATABASE corpus_shared TEMPLATE {template}")
    return "corpus_shared"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_model_matches_postgres(
    case: Case, postgres_server: Any, template: str, shared_db: str
) -> None:
    reason = _skip_reason(case)
    if reason:
        pytest.skip(reason)
    result = lint_case(case)
    statements = list(result.statements)
    fresh = _needs_fresh_database(statements)
    db = shared_db
    if fresh:
        db = "corpus_" + "".join(ch if ch.isalnum() else "_" for ch in case.id)[:40].lower()
        with postgres_server.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db}")
            conn.execute(f"CREATE DATABASE {db} TEMPLATE {template}")
    try:
        with postgres_server.connect(db) as conn:
            conn.execute("SET TimeZone = 'America/New_York'")  # timestamp ↔ timestamptz rewrites
            if not fresh or case.settings.get("assume_in_transaction") == "true":
                conn.execute("BEGIN")
            error = _run(conn, case, statements)
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
    finally:
        if fresh:
            with postgres_server.connect() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    expected = case.pg.removeprefix("error").strip() if case.pg.startswith("error") else None
    assert error == expected, f"PostgreSQL raised {error}, the case expects {expected}"


def _run(conn: psycopg.Connection, case: Case, statements: list[AnalyzedStatement]) -> str | None:
    oids = table_oids(conn, FIXTURE_TABLES)
    for stmt in statements:
        in_tx = conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        claims = _resolve(conn, stmt.effects, oids)
        before = snapshot(conn, list(oids.values()))
        try:
            conn.execute(stmt.text)
        except psycopg.Error as exc:
            return exc.sqlstate
        in_tx = in_tx and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        after = snapshot(conn, list(oids.values()))
        _compare(case, stmt, claims, before, after, in_tx)
    return None


def _resolve(
    conn: psycopg.Connection, effects: tuple[Effect, ...], oids: dict[str, int]
) -> dict[int, Effect]:
    """Claimed effects on fixture tables, by table oid."""
    claims: dict[int, Effect] = {}
    for e in effects:
        if e.new or e.find(Cause.TYPE_CHANGE_UNKNOWN):
            continue
        oid = oids.get(e.table.name) if e.table is not None else index_table(conn, e.index or "")
        if oid is not None:
            claims[oid] = e
    return claims


def _compare(
    case: Case,
    stmt: AnalyzedStatement,
    claims: dict[int, Effect],
    before: Snapshot,
    after: Snapshot,
    in_tx: bool,
) -> None:
    where = f"{case.id}: {stmt.text!r}"
    for oid in before.filenodes:
        rewritten = after.filenodes.get(oid) not in (None, before.filenodes[oid])
        claim = claims.get(oid)
        if rewritten:
            assert claim is not None and claim.work is Work.REWRITE, (
                f"{where}: unclaimed rewrite of {oid}"
            )
        elif claim is not None and after.filenodes.get(oid) is not None:
            assert claim.work is not Work.REWRITE, f"{where}: claimed a rewrite, none happened"
        if not in_tx:
            continue
        held = after.locks.get(oid, frozenset())
        taken = held - before.locks.get(oid, frozenset())
        if claim is None:
            strong = [m for m in taken if m >= LockMode.SHARE_UPDATE_EXCLUSIVE]
            assert not strong, f"{where}: unclaimed {[m.sql for m in strong]} on {oid}"
            continue
        assert claim.mode in held, (
            f"{where}: claimed {claim.mode.sql}, held {[m.sql for m in held]}"
        )
        assert all(m <= claim.mode for m in taken), (
            f"{where}: took {[m.sql for m in taken]} > {claim.mode.sql}"
        )
        scanned = after.scans.get(oid, 0) > before.scans.get(oid, 0)
        if claim.work is Work.SCAN:
            assert scanned, f"{where}: claimed a full scan, seq_scan did not move"
        elif claim.work is Work.CATALOG and after.filenodes.get(oid) is not None:
            assert not scanned, f"{where}: claimed a catalog-only change, but the table was scanned"
