"""check-compat: will the previous release's queries still work after the migrations?

A scratch database gets the current schema, then the pending migrations one by one;
after each, every query of the previous release is PREPAREd again (and INSERTs are
checked for new required columns). Queries that already failed before any migration
are set aside, so only what the migrations break is reported.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence
from typing import Any

from pglast import ast

from turnout.core.migrations.compat import (
    CompatFailure,
    CompatReport,
    insert_target,
    missing_required,
)
from turnout.core.migrations.lint import MigrationResult
from turnout.core.migrations.querylog import Query, QuerySet
from turnout.core.migrations.schema import strip_psql_meta
from turnout.errors import SystemFault, UserError
from turnout.migrations.postgres import connect, find_server_program, one_line

__all__ = ["check_compat", "dump_schema"]


def dump_schema(dsn: str) -> str:
    """``pg_dump --schema-only`` of the database at ``dsn``."""
    pg_dump = find_server_program("pg_dump")
    done = subprocess.run(
        [pg_dump, "--schema-only", "--no-owner", "--no-privileges", "--dbname", dsn],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise SystemFault(f"pg_dump --schema-only failed: {first}")
    return done.stdout


def check_compat(
    scratch_dsn: str, schema_sql: str, pending: Sequence[MigrationResult], queries: QuerySet
) -> CompatReport:
    import psycopg.conninfo

    name = f"turnout_compat_{secrets.token_hex(4)}"
    with connect(scratch_dsn) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = psycopg.conninfo.make_conninfo(scratch_dsn, dbname=name)
        with connect(dsn) as loader:
            _load_schema(loader, schema_sql)
        with connect(dsn) as conn:
            return _check(conn, pending, queries)
    finally:
        with connect(scratch_dsn) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _load_schema(conn: Any, schema_sql: str) -> None:
    import psycopg

    try:
        conn.execute(strip_psql_meta(schema_sql))
    except psycopg.Error as exc:
        raise UserError(
            f"the schema does not load into a scratch database: {one_line(exc)}; use the output "
            "of pg_dump --schema-only --no-owner --no-privileges"
        ) from exc


def _check(conn: Any, pending: Sequence[MigrationResult], queries: QuerySet) -> CompatReport:
    before: list[tuple[Query, str]] = []
    passing: list[Query] = []
    for query in queries.queries:
        error = _problem(conn, query)
        if error:
            before.append((query, error[0]))
        else:
            passing.append(query)
    failures: list[CompatFailure] = []
    for result in pending:
        failed = _apply(conn, result)
        if failed:
            return CompatReport(
                len(queries.queries), queries.skipped, tuple(before), tuple(failures), failed
            )
        for query in list(passing):
            error = _problem(conn, query)
            if error:
                failures.append(CompatFailure(query, result.source.id, error[0], error[1]))
                passing.remove(query)
    return CompatReport(len(queries.queries), queries.skipped, tuple(before), tuple(failures))


def _apply(conn: Any, result: MigrationResult) -> str | None:
    import psycopg

    for stmt in result.statements:
        # The runner's BEGIN/COMMIT frame the migration (Alembic's autocommit_block pairs
        # with them); its other statements are bookkeeping (alembic_version).
        if stmt.runner and not isinstance(stmt.node, ast.TransactionStmt):
            continue
        try:
            conn.execute(stmt.text)
        except psycopg.Error as exc:
            return (
                f"{stmt.location}: migration {result.source.id} fails on the scratch copy: "
                f"{one_line(exc)}"
            )
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")
        return f"{result.source.path}: migration {result.source.id} leaves a transaction open"
    return None


def _problem(conn: Any, query: Query) -> tuple[str, str | None] | None:
    """Why ``query`` fails on the current scratch schema, or None."""
    import psycopg

    try:
        conn.execute(f"PREPARE turnout_compat_check AS {query.text}")
        conn.execute("DEALLOCATE turnout_compat_check")
    except psycopg.Error as exc:
        return exc.diag.message_primary or one_line(exc), exc.sqlstate
    target = insert_target(query.node)
    if target is None:
        return None
    rows = conn.execute(_REQUIRED, (target.table.schema, target.table.name)).fetchall()
    missing = missing_required(target, [(int(p), str(n)) for p, n in rows])
    if missing:
        cols = ", ".join(f"{target.table}.{m}" for m in missing)
        return f"the INSERT leaves out {cols}, NOT NULL without a default", "23502"
    return None


# Required columns, with their position among the table's live columns.
_REQUIRED = """
SELECT position, attname FROM (
    SELECT row_number() OVER (ORDER BY a.attnum) AS position, a.attname, a.attnotnull,
           a.atthasdef, a.attidentity, a.attgenerated
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
) cols
WHERE attnotnull AND NOT atthasdef AND attidentity = '' AND attgenerated = ''
ORDER BY position
"""
