"""Run a backfill against PostgreSQL: batch by batch, checkpointed, retried, resumable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnout.core.migrations.backfill import (
    RETRYABLE,
    BackfillSpec,
    backoff_delay,
    batch_sql,
    checkpoint_sql,
)
from turnout.errors import SystemFault, UserError
from turnout.migrations.postgres import one_line

__all__ = ["BackfillResult", "Progress", "run_backfill"]


@dataclass(frozen=True)
class Progress:
    visited: int  # keys visited so far in this run
    updated: int  # rows updated so far in this run
    total: int  # estimated keys to visit in this run
    retries: int


@dataclass(frozen=True)
class BackfillResult:
    batches: int
    updated: int  # in this run
    retries: int
    resumed_after: str | None  # the checkpoint this run started from
    finished: bool  # False when stopped by max_batches


def run_backfill(
    conn: Any,
    spec: BackfillSpec,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
    max_batches: int | None = None,
    pause: float = 0.0,
) -> BackfillResult:
    """Run ``spec`` on ``conn`` (an autocommit psycopg connection) until done or
    ``max_batches`` batches ran."""
    sql = checkpoint_sql()
    conn.execute(sql["create"])
    key_type = _key_type(conn, spec)
    row = conn.execute(sql["read"], {"name": spec.name}).fetchone()
    after: str | None = row[0] if row else None
    if row and row[3]:
        return BackfillResult(0, 0, 0, after, True)
    total = _estimate(conn, spec, key_type, after)
    batches = updated = visited = retries = 0
    resumed = after
    while max_batches is None or batches < max_batches:
        last, seen, changed, tries = _batch(conn, spec, key_type, after, sleep, jitter)
        retries += tries
        if last is None:
            conn.execute(sql["finish"], {"name": spec.name})
            return BackfillResult(batches, updated, retries, resumed, True)
        after, batches = last, batches + 1
        visited, updated = visited + seen, updated + changed
        if on_progress:
            on_progress(Progress(visited, updated, max(total, visited), retries))
        if pause:
            sleep(pause)
    return BackfillResult(batches, updated, retries, resumed, False)


def _batch(
    conn: Any,
    spec: BackfillSpec,
    key_type: str,
    after: str | None,
    sleep: Callable[[float], None],
    jitter: Callable[[], float],
) -> tuple[str | None, int, int, int]:
    """One batch in its own transaction, retried on lock/statement timeouts and deadlocks."""
    import psycopg

    query = batch_sql(spec, key_type, first=after is None)
    params = {"after": after, "limit": spec.batch_size}
    attempt = 0
    while True:
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = {int(spec.lock_timeout_ms)}")
                conn.execute(f"SET LOCAL statement_timeout = {int(spec.statement_timeout_ms)}")
                last, seen, changed = conn.execute(query, params).fetchone()
                if last is not None:
                    conn.execute(
                        checkpoint_sql()["advance"],
                        {"name": spec.name, "last_key": last, "rows": changed},
                    )
            return last, int(seen), int(changed), attempt
        except psycopg.Error as exc:
            where = "first batch" if after is None else f"batch after key {after}"
            if exc.sqlstate not in RETRYABLE:
                message = exc.diag.message_primary or one_line(exc)
                raise UserError(f"backfill {spec.name}: {where}: {message}") from exc
            attempt += 1
            if attempt > spec.max_retries:
                raise SystemFault(
                    f"backfill {spec.name}: {where} failed {attempt} times "
                    f"({exc.sqlstate}: {one_line(exc)}); rerun the same command to resume"
                ) from exc
            sleep(backoff_delay(attempt, jitter()))


def _key_type(conn: Any, spec: BackfillSpec) -> str:
    row = conn.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND NOT a.attisdropped",
        (spec.table.schema, spec.table.name, spec.key),
    ).fetchone()
    if row is None:
        raise UserError(f"backfill {spec.name}: no column {spec.key!r} in table {spec.table}")
    return str(row[0])


def _estimate(conn: Any, spec: BackfillSpec, key_type: str, after: str | None) -> int:
    """Keys left to visit: the planner's row estimate, or a count when there is none."""
    from turnout.core.migrations.backfill import quote_ident, quote_table

    row = conn.execute(
        "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (spec.table.schema, spec.table.name),
    ).fetchone()
    if row and row[0] and row[0] > 0 and after is None:
        return int(row[0])
    where = (
        "" if after is None else f" WHERE {quote_ident(spec.key)} > CAST(%(after)s AS {key_type})"
    )
    count = conn.execute(f"SELECT count(*) FROM {quote_table(spec.table)}{where}", {"after": after})
    return int(count.fetchone()[0])
