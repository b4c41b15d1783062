"""Acceptance 2 for the claims that are not a lock mode on one statement: what the
unsafe statement does to other sessions (queues, breaks their queries) and that the
safe alternative does not. Lock modes, rewrites and scans of every corpus case are
checked in test_verify_corpus.py; the two together cover every rule (see the last test).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from corpus import load_cases

from turnout.core.migrations.rules import RULES

pytestmark = [pytest.mark.system, pytest.mark.slow]

SCHEMA = """
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id));
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, phone text NOT NULL);
CREATE INDEX items_name_idx ON items (name);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 50) g;
INSERT INTO orders SELECT g, g FROM generate_series(1, 50) g;
INSERT INTO items SELECT g, 'i' || g, '555' FROM generate_series(1, 50) g;
"""


@pytest.fixture
def db(postgres_server: Any, database: str) -> Callable[[], psycopg.Connection]:
    """Open sessions on a database holding SCHEMA; all are closed after the test."""
    opened: list[psycopg.Connection] = []

    def session() -> psycopg.Connection:
        conn = postgres_server.connect(database)
        opened.append(conn)
        return conn

    session().execute(SCHEMA)
    yield session  # type: ignore[misc]
    for conn in opened:
        conn.close()


def blocked(conn: psycopg.Connection, sql: str, wait_ms: int = 400) -> bool:
    """True when ``sql`` cannot finish within ``wait_ms`` (it waits for a lock)."""
    conn.execute(f"SET statement_timeout = {wait_ms}")
    try:
        conn.execute(sql)
    except psycopg.errors.QueryCanceled:
        return True
    finally:
        conn.execute("SET statement_timeout = 0")
    return False


@contextmanager
def in_background(
    conn: psycopg.Connection, sql: str, watcher: psycopg.Connection
) -> Iterator[dict[str, Any]]:
    """Run ``sql`` on ``conn`` in a thread; yields once the server shows it running (or
    waiting for its lock), as seen from ``watcher``."""
    outcome: dict[str, Any] = {}
    pid = conn.info.backend_pid

    def run() -> None:
        try:
            conn.execute(sql)
            outcome["ok"] = True
        except psycopg.Error as exc:
            outcome["error"] = exc.sqlstate

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not outcome:
        row = watcher.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row and row[0] == "active":
            break
        time.sleep(0.01)
    time.sleep(0.1)
    try:
        yield outcome
    finally:
        thread.join(timeout=30)


def sqlstate(conn: psycopg.Connection, sql: str) -> str | None:
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


# --- locking -------------------------------------------------------------------------


def test_create_index_blocks_writes_concurrently_does_not(db) -> None:
    migrator, writer, watcher = db(), db(), db()
    # An index expression that takes 20 ms a row: the build lasts about a second.
    migrator.execute(
        "CREATE FUNCTION slow_key(text) RETURNS text LANGUAGE sql IMMUTABLE "
        "AS $$ SELECT $1 FROM pg_sleep(0.02) $$"
    )
    with in_background(
        migrator, "CREATE INDEX CONCURRENTLY i1 ON items (slow_key(name))", watcher
    ) as done:
        assert not blocked(writer, "INSERT INTO items VALUES (1001, 'x', '1')")
    assert done == {"ok": True}
    with in_background(migrator, "CREATE INDEX i2 ON items (slow_key(name))", watcher) as done:
        assert not blocked(writer, "SELECT count(*) FROM items")  # SHARE lets reads through
        assert blocked(writer, "INSERT INTO items VALUES (1002, 'y', '2')")
    assert done == {"ok": True}


def test_drop_index_queues_reads_concurrently_does_not(db) -> None:
    reader, migrator, other, watcher = db(), db(), db(), db()
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items")
    with in_background(migrator, "DROP INDEX items_name_idx", watcher) as done:
        assert blocked(other, "SELECT count(*) FROM items")
        reader.execute("COMMIT")
    assert done == {"ok": True}
    migrator.execute("CREATE INDEX items_name_idx ON items (name)")
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items")
    with in_background(migrator, "DROP INDEX CONCURRENTLY items_name_idx", watcher) as done:
        assert not blocked(other, "SELECT count(*) FROM items")
        reader.execute("COMMIT")
    assert done == {"ok": True}


def test_without_lock_timeout_a_waiting_alter_stops_all_reads(db) -> None:
    reader, migrator, other, watcher = db(), db(), db(), db()
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM accounts")
    with in_background(migrator, "ALTER TABLE accounts ADD COLUMN note text", watcher) as done:
        assert blocked(other, "SELECT count(*) FROM accounts")
        reader.execute("COMMIT")
    assert done == {"ok": True}
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM accounts")
    migrator.execute("SET lock_timeout = '100ms'")
    assert sqlstate(migrator, "ALTER TABLE accounts ADD COLUMN note2 text") == "55P03"
    assert not blocked(other, "SELECT count(*) FROM accounts")
    reader.execute("COMMIT")


def test_statement_timeout_cancels_a_surprise_rewrite_and_frees_the_table(db) -> None:
    migrator, other = db(), db()
    migrator.execute(
        "CREATE FUNCTION slow_default() RETURNS int LANGUAGE sql AS $$ SELECT 1 FROM pg_sleep(0.02) $$"
    )
    migrator.execute("SET statement_timeout = '200ms'")
    started = time.monotonic()
    assert (
        sqlstate(migrator, "ALTER TABLE items ADD COLUMN s int DEFAULT slow_default()") == "57014"
    )
    assert time.monotonic() - started < 0.9  # 50 rows x 20 ms would take a second
    assert not blocked(other, "SELECT count(*) FROM items")


def test_lock_is_held_until_commit_not_until_the_statement_ends(db) -> None:
    migrator, other = db(), db()
    migrator.execute("BEGIN")
    migrator.execute("ALTER TABLE accounts ADD COLUMN flag text")  # done in a millisecond
    assert blocked(other, "SELECT count(*) FROM accounts")  # ... yet reads still wait
    migrator.execute("COMMIT")
    migrator.execute("ALTER TABLE accounts ADD COLUMN flag2 text")  # autocommit
    assert not blocked(other, "SELECT count(*) FROM accounts")


# --- transactions ---------------------------------------------------------------------


def test_nested_begin_only_warns_and_inner_commit_ends_everything(db) -> None:
    conn = db()
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("BEGIN")
    conn.execute("ALTER TABLE accounts ADD COLUMN a text")
    conn.execute("BEGIN")
    assert notices == ["there is already a transaction in progress"]
    conn.execute("COMMIT")
    conn.execute("ALTER TABLE accounts ADD COLUMN b text")
    assert sqlstate(conn, "ROLLBACK") is None  # the outer "transaction" is gone
    cols = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'accounts'::regclass"
        )
    }
    assert {"a", "b"} <= cols


def test_uncommitted_transaction_is_lost_when_the_session_ends(db) -> None:
    conn, other = db(), db()
    conn.execute("BEGIN")
    conn.execute("ALTER TABLE accounts ADD COLUMN lost text")
    conn.close()
    assert sqlstate(other, "SELECT lost FROM accounts") == "42703"


def test_concurrently_is_refused_inside_a_transaction(db) -> None:
    conn = db()
    conn.execute("BEGIN")
    assert sqlstate(conn, "CREATE INDEX CONCURRENTLY i ON items (phone)") == "25001"
    conn.execute("ROLLBACK")
    assert sqlstate(conn, "CREATE INDEX CONCURRENTLY i ON items (phone)") is None


# --- two versions running -------------------------------------------------------------

OLD_QUERIES = {
    "select": "SELECT id, name FROM items WHERE id = $1",
    "insert": "INSERT INTO items (id, name, phone) VALUES ($1, $2, $3)",
}


def prepares(conn: psycopg.Connection, sql: str) -> str | None:
    state = sqlstate(conn, f"PREPARE old_query AS {sql}")
    if state is None:
        conn.execute("DEALLOCATE old_query")
    return state


def test_rename_column_breaks_old_queries_expand_does_not(db) -> None:
    conn = db()
    conn.execute("ALTER TABLE items ADD COLUMN full_name text")  # the safe expand
    assert [prepares(conn, q) for q in OLD_QUERIES.values()] == [None, None]
    conn.execute("ALTER TABLE items RENAME COLUMN name TO label")
    assert [prepares(conn, q) for q in OLD_QUERIES.values()] == ["42703", "42703"]


def test_rename_table_breaks_old_queries_unless_a_view_keeps_the_name(db) -> None:
    conn = db()
    conn.execute("ALTER TABLE items RENAME TO products")
    assert prepares(conn, OLD_QUERIES["select"]) == "42P01"
    conn.execute("CREATE VIEW items AS SELECT * FROM products")
    assert prepares(conn, OLD_QUERIES["select"]) is None
    conn.execute("INSERT INTO items (id, name, phone) VALUES (900, 'via view', '1')")  # updatable
    assert conn.execute("SELECT name FROM products WHERE id = 900").fetchone() == ("via view",)


def test_drop_column_and_table_break_old_queries(db) -> None:
    conn = db()
    conn.execute("ALTER TABLE items DROP COLUMN phone")
    assert prepares(conn, OLD_QUERIES["insert"]) == "42703"
    conn.execute("DROP TABLE items")
    assert prepares(conn, OLD_QUERIES["select"]) == "42P01"


def test_required_column_breaks_old_inserts_a_default_does_not(db) -> None:
    conn = db()
    assert sqlstate(conn, "ALTER TABLE items ADD COLUMN sku text NOT NULL") == "23502"  # rows exist
    conn.execute("ALTER TABLE items ADD COLUMN tier text NOT NULL DEFAULT 'free'")
    assert sqlstate(conn, "INSERT INTO items (id, name, phone) VALUES (901, 'x', '1')") is None
    conn.execute("TRUNCATE items")
    conn.execute("ALTER TABLE items ADD COLUMN sku text NOT NULL")  # succeeds on an empty table
    assert sqlstate(conn, "INSERT INTO items (id, name, phone) VALUES (902, 'x', '1')") == "23502"


def test_drop_not_null_lets_nulls_in_that_old_code_never_saw(db) -> None:
    conn = db()
    assert sqlstate(conn, "INSERT INTO items (id, name, phone) VALUES (903, 'x', NULL)") == "23502"
    conn.execute("ALTER TABLE items ALTER COLUMN phone DROP NOT NULL")
    assert sqlstate(conn, "INSERT INTO items (id, name, phone) VALUES (903, 'x', NULL)") is None


def test_truncate_cascade_empties_referencing_tables(db) -> None:
    conn = db()
    assert sqlstate(conn, "TRUNCATE accounts") == "0A000"  # RESTRICT refuses
    conn.execute("TRUNCATE accounts CASCADE")
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_drop_database_ends_every_session_on_it(postgres_server: Any) -> None:
    with postgres_server.connect() as admin:
        admin.execute("DROP DATABASE IF EXISTS doomed")
        admin.execute("CREATE DATABASE doomed")
        app = postgres_server.connect("doomed")
        admin.execute("DROP DATABASE doomed WITH (FORCE)")
    with pytest.raises(psycopg.OperationalError):
        app.execute("SELECT 1")
    app.close()


# --- schema ---------------------------------------------------------------------------


def test_integer_key_runs_out_bigint_does_not(db) -> None:
    conn = db()
    conn.execute("CREATE TABLE small (id serial PRIMARY KEY)")
    conn.execute("CREATE TABLE big (id bigserial PRIMARY KEY)")
    conn.execute("SELECT setval('small_id_seq', 2147483647), setval('big_id_seq', 2147483647)")
    assert sqlstate(conn, "INSERT INTO small DEFAULT VALUES") == "2200H"  # sequence limit
    assert sqlstate(conn, "INSERT INTO big DEFAULT VALUES") is None


# --- coverage -------------------------------------------------------------------------

TARGETED = {
    "create-index-concurrently": test_create_index_blocks_writes_concurrently_does_not,
    "drop-index-concurrently": test_drop_index_queues_reads_concurrently_does_not,
    "lock-timeout": test_without_lock_timeout_a_waiting_alter_stops_all_reads,
    "statement-timeout": test_statement_timeout_cancels_a_surprise_rewrite_and_frees_the_table,
    "lock-held-across-statements": test_lock_is_held_until_commit_not_until_the_statement_ends,
    "transaction-nesting": test_nested_begin_only_warns_and_inner_commit_ends_everything,
    "uncommitted-transaction": test_uncommitted_transaction_is_lost_when_the_session_ends,
    "concurrently-in-transaction": test_concurrently_is_refused_inside_a_transaction,
    "rename-column": test_rename_column_breaks_old_queries_expand_does_not,
    "rename-table": test_rename_table_breaks_old_queries_unless_a_view_keeps_the_name,
    "drop-column": test_drop_column_and_table_break_old_queries,
    "drop-table": test_drop_column_and_table_break_old_queries,
    "add-required-column": test_required_column_breaks_old_inserts_a_default_does_not,
    "drop-not-null": test_drop_not_null_lets_nulls_in_that_old_code_never_saw,
    "truncate-cascade": test_truncate_cascade_empties_referencing_tables,
    "drop-database": test_drop_database_ends_every_session_on_it,
    "integer-primary-key": test_integer_key_runs_out_bigint_does_not,
}
# Rules whose claim is a lock mode, rewrite or scan: verified on their corpus cases.
BY_CORPUS = {
    "add-column-rewrite",
    "change-column-type",
    "set-not-null",
    "constraint-not-valid",
    "unique-without-index",
    "table-rewrite",
    "add-domain-constraint",
}


def test_every_rule_with_a_database_claim_is_verified() -> None:
    unsafe_cases = {
        c.rule for c in load_cases() if c.label == "unsafe" and not c.pg.startswith("skip")
    }
    assert unsafe_cases >= BY_CORPUS
    claims = {r.id for r in RULES} - {"unused-suppression"}  # a suppression makes no database claim
    assert claims == BY_CORPUS | set(TARGETED)
