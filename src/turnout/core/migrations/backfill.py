"""Backfills in batches: the plan (SQL per batch, checkpoint, retry policy), no I/O.

Each batch is its own short transaction: it takes the next ``batch_size`` keys after
the checkpoint, updates those rows, and advances the checkpoint in the same
transaction, so an interrupted backfill resumes after its last committed batch and
no batch runs twice. ``lock_timeout`` keeps a batch from queueing traffic behind it;
a batch that times out or deadlocks is retried with exponential backoff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pglast import parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

from turnout.core.migrations.names import TableName
from turnout.errors import UserError

__all__ = [
    "CHECKPOINT_TABLE",
    "RETRYABLE",
    "BackfillSpec",
    "backoff_delay",
    "batch_sql",
    "checkpoint_sql",
    "quote_ident",
    "quote_table",
]

CHECKPOINT_TABLE = "turnout_backfill"

# SQLSTATEs worth retrying: lock_not_available (lock_timeout), query_canceled
# (statement_timeout), serialization_failure, deadlock_detected.
RETRYABLE = frozenset({"55P03", "57014", "40001", "40P01"})

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


@dataclass(frozen=True)
class BackfillSpec:
    name: str  # the checkpoint's key: rerun with the same name to resume
    table: TableName
    set: str  # SQL assignments: "email_lower = lower(email)"
    where: str | None = None  # SQL condition selecting rows still to fill
    key: str = "id"  # a unique, ordered column (the primary key)
    batch_size: int = 1000
    lock_timeout_ms: int = 2000
    statement_timeout_ms: int = 30000
    max_retries: int = 8

    @classmethod
    def build(
        cls,
        *,
        table: str,
        set: str,
        where: str | None = None,
        key: str = "id",
        name: str | None = None,
        batch_size: int = 1000,
        lock_timeout_ms: int = 2000,
        statement_timeout_ms: int = 30000,
        max_retries: int = 8,
    ) -> BackfillSpec:
        """A validated spec; the SQL fragments must parse as PostgreSQL."""
        parts = table.split(".")
        if len(parts) > 2 or not all(parts):
            raise UserError(f"--table {table!r}: use table or schema.table")
        tname = TableName.of(parts[-1], parts[0] if len(parts) == 2 else None)
        checkpoint = name or f"{tname}:{set}"[:100]
        if name is not None and not _NAME.match(name):
            raise UserError(f"--name {name!r}: use up to 100 letters, digits, '_', '-', '.'")
        for label, value, low in (
            ("--batch-size", batch_size, 1),
            ("--lock-timeout", lock_timeout_ms, 1),
            ("--statement-timeout", statement_timeout_ms, 1),
            ("--max-retries", max_retries, 0),
        ):
            if value < low:
                raise UserError(f"{label} must be at least {low}, not {value}")
        condition = _check_fragments(tname, set, where, key)
        return cls(
            checkpoint, tname, set, condition, key, batch_size, lock_timeout_ms,
            statement_timeout_ms, max_retries,
        )  # fmt: skip


def _check_fragments(table: TableName, assignments: str, where: str | None, key: str) -> str | None:
    """Validate the fragments; return the condition re-printed from its parse tree, so it
    cannot escape the parentheses it is put in."""
    update = _parse_one(f"UPDATE {quote_table(table)} SET {assignments}", "--set")
    returning = getattr(update, "returningList", None) or getattr(update, "returningClause", None)
    if update.fromClause or update.whereClause or returning or update.withClause:
        raise UserError(
            '--set takes only assignments like "col = expr, other = expr"; '
            "put the row filter in --where"
        )
    if not where:
        return None
    select = _parse_one(f"SELECT 1 FROM {quote_table(table)} WHERE ({where})", "--where")
    if select.whereClause is None:
        raise UserError("--where must be a boolean condition")
    return str(RawStream()(select.whereClause))


def _parse_one(sql: str, option: str) -> Any:
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        raise UserError(f"{option} does not parse as PostgreSQL ({exc.args[0]})") from exc
    if len(statements) != 1:
        raise UserError(f"{option} must not contain ';' or further statements")
    return statements[0].stmt


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: TableName) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def batch_sql(spec: BackfillSpec, key_type: str, first: bool) -> str:
    """One batch: ``%(after)s`` (omitted when ``first``) and ``%(limit)s`` are parameters.

    Returns one row: the batch's last key, the keys visited, the rows updated."""
    table, key = quote_table(spec.table), quote_ident(spec.key)
    lower = "" if first else f"WHERE {key} > CAST(%(after)s AS {key_type}) "
    condition = f" AND ({spec.where})" if spec.where else ""
    return (
        f"WITH batch AS (SELECT {key} AS turnout_key FROM {table} {lower}"
        f"ORDER BY {key} LIMIT %(limit)s), "
        f"done AS (UPDATE {table} AS turnout_row SET {spec.set} FROM batch "
        f"WHERE turnout_row.{key} = batch.turnout_key{condition} RETURNING 1) "
        "SELECT (SELECT max(turnout_key)::text FROM batch), "
        "(SELECT count(*) FROM batch), (SELECT count(*) FROM done)"
    )


def checkpoint_sql() -> dict[str, str]:
    """The statements that keep the checkpoint table."""
    t = CHECKPOINT_TABLE
    return {
        "create": (
            f"CREATE TABLE IF NOT EXISTS {t} (name text PRIMARY KEY, last_key text, "
            "rows_updated bigint NOT NULL DEFAULT 0, batches bigint NOT NULL DEFAULT 0, "
            "done boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now())"
        ),
        "read": f"SELECT last_key, rows_updated, batches, done FROM {t} WHERE name = %(name)s",
        "advance": (
            f"INSERT INTO {t} AS c (name, last_key, rows_updated, batches) "
            "VALUES (%(name)s, %(last_key)s, %(rows)s, 1) ON CONFLICT (name) DO UPDATE SET "
            "last_key = EXCLUDED.last_key, rows_updated = c.rows_updated + EXCLUDED.rows_updated, "
            "batches = c.batches + 1, updated_at = now()"
        ),
        "finish": (
            f"INSERT INTO {t} (name, done) VALUES (%(name)s, true) "
            "ON CONFLICT (name) DO UPDATE SET done = true, updated_at = now()"
        ),
    }


def backoff_delay(attempt: int, jitter: float, base: float = 0.1, cap: float = 10.0) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential with equal jitter.

    ``jitter`` in [0, 1) comes from the caller (random in production, fixed in tests)."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter
