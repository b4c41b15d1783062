"""Backfills against a real server: batches, resume, retry with backoff."""

from __future__ import annotations

import pytest

from turnout.core.migrations.backfill import BackfillSpec
from turnout.errors import SystemFault
from turnout.migrations.backfill import BackfillResult, run_backfill

pytestmark = [pytest.mark.system, pytest.mark.slow]

ROWS = 2500


@pytest.fixture
def conn(postgres_server, database):
    with postgres_server.connect(database) as c:
        c.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text, name_upper text, hits int DEFAULT 0)"
        )
        c.execute(
            f"INSERT INTO items (id, name) SELECT g, 'item ' || g FROM generate_series(1, {ROWS}) g"
        )
        c.execute("ANALYZE items")
        yield c


def _spec(**kwargs: object) -> BackfillSpec:
    args = {
        "table": "items",
        "set": "name_upper = upper(name), hits = hits + 1",
        "batch_size": 400,
        "name": "items-upper",
    }
    args.update(kwargs)
    return BackfillSpec.build(**args)  # type: ignore[arg-type]


def test_fills_every_row_in_batches_with_progress(conn) -> None:
    progress = []
    result = run_backfill(conn, _spec(where="name_upper IS NULL"), on_progress=progress.append)
    assert result == BackfillResult(
        batches=7, updated=ROWS, retries=0, resumed_after=None, finished=True
    )
    assert (
        conn.execute("SELECT count(*) FROM items WHERE name_upper = upper(name)").fetchone()[0]
        == ROWS
    )
    assert [p.visited for p in progress] == [400, 800, 1200, 1600, 2000, 2400, 2500]
    assert progress[-1].total == ROWS
    row = conn.execute(
        "SELECT last_key, rows_updated, batches, done FROM turnout_backfill"
    ).fetchone()
    assert row == (str(ROWS), ROWS, 7, True)


def test_interrupted_backfill_resumes_and_touches_each_row_once(conn) -> None:
    first = run_backfill(conn, _spec(), max_batches=3)
    assert (first.finished, first.updated) == (False, 1200)
    second = run_backfill(conn, _spec())
    assert (second.resumed_after, second.updated, second.finished) == ("1200", ROWS - 1200, True)
    assert conn.execute("SELECT min(hits), max(hits) FROM items").fetchone() == (1, 1)
    again = run_backfill(conn, _spec())
    assert (again.batches, again.updated) == (0, 0)


def test_lock_conflict_is_retried_with_backoff(conn, postgres_server, database) -> None:
    blocker = postgres_server.connect(database)
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE items IN EXCLUSIVE MODE")  # blocks the batch's UPDATE
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 2:
            blocker.execute("COMMIT")

    try:
        result = run_backfill(conn, _spec(lock_timeout_ms=50), sleep=sleep, jitter=lambda: 0.0)
    finally:
        blocker.close()
    assert delays == [0.05, 0.1]
    assert (result.retries, result.updated, result.finished) == (2, ROWS, True)


def test_giving_up_leaves_the_checkpoint_where_it_was(conn, postgres_server, database) -> None:
    blocker = postgres_server.connect(database)
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE items IN EXCLUSIVE MODE")
    try:
        with pytest.raises(SystemFault, match="first batch failed 3 times \\(55P03"):
            run_backfill(conn, _spec(lock_timeout_ms=20, max_retries=2), sleep=lambda s: None)
    finally:
        blocker.close()
    assert conn.execute("SELECT count(*) FROM turnout_backfill").fetchone()[0] == 0
    assert (
        conn.execute("SELECT count(*) FROM items WHERE name_upper IS NOT NULL").fetchone()[0] == 0
    )


def test_cli_backfill(postgres_server, database, conn, monkeypatch, capsys) -> None:
    from helpers import run_cli

    result = run_cli(
        monkeypatch, capsys, "backfill", "--dsn", postgres_server.dsn(database), "--table", "items",
        "--set", "name_upper = upper(name)", "--where", "name_upper IS NULL", "--batch-size", "1000",
        "--no-progress",
    )  # fmt: skip
    assert result.code == 0
    assert (
        result.out.strip()
        == f"backfill items:name_upper = upper(name): {ROWS} rows updated in 3 batches (0 retries); done"
    )
