"""Reading the previous release's queries from files, pg_stat_statements and logs."""

from __future__ import annotations

import json

import pytest

from turnout.core.migrations.compat import InsertTarget, insert_target, missing_required
from turnout.core.migrations.names import TableName
from turnout.core.migrations.querylog import guess_format, parse_queries
from turnout.errors import UserError


def test_sql_file_keeps_preparable_statements_with_their_lines() -> None:
    text = "SELECT 1;\nSET x = 1;\n\nUPDATE t\n  SET a = $1 WHERE id = $2;\nSELECT 1;\n"
    qs = parse_queries(text, "sql", "q.sql")
    assert [(q.text, q.origin) for q in qs.queries] == [
        ("SELECT 1", "q.sql:1"),
        ("UPDATE t SET a = $1 WHERE id = $2", "q.sql:4"),
    ]
    assert qs.skipped == ("q.sql:2",)


def test_pg_stat_statements_csv_and_json() -> None:
    csv_text = 'userid,query,calls\n10,"SELECT a FROM t WHERE id = $1",5\n10,BEGIN,9\n'
    qs = parse_queries(csv_text, "pgss-csv", "pgss.csv")
    assert [(q.text, q.origin) for q in qs.queries] == [
        ("SELECT a FROM t WHERE id = $1", "pgss.csv row 2")
    ]
    json_text = json.dumps([{"query": "DELETE FROM t WHERE id = $1", "calls": 1}])
    assert [q.text for q in parse_queries(json_text, "pgss-json", "p.json").queries] == [
        "DELETE FROM t WHERE id = $1"
    ]
    lines = '{"query": "SELECT 1"}\n{"query": "SELECT 2"}\n'
    assert len(parse_queries(lines, "pgss-json", "p.jsonl").queries) == 2


def test_server_log_statements_span_lines() -> None:
    log = (
        "2025-01-01 10:00:00 UTC [1] LOG:  statement: SELECT id\n"
        "\t    FROM users WHERE id = 1\n"
        "2025-01-01 10:00:01 UTC [1] LOG:  execute <unnamed>: INSERT INTO users (id) VALUES ($1)\n"
        "2025-01-01 10:00:01 UTC [1] DETAIL:  parameters: $1 = '5'\n"
        "2025-01-01 10:00:02 UTC [1] LOG:  duration: 0.1 ms  statement: COMMIT\n"
    )
    qs = parse_queries(log, "log", "pg.log")
    assert [(q.text, q.origin) for q in qs.queries] == [
        ("SELECT id FROM users WHERE id = 1", "pg.log:1"),
        ("INSERT INTO users (id) VALUES ($1)", "pg.log:3"),
    ]


def test_bad_inputs() -> None:
    with pytest.raises(UserError, match="CSV needs a header row with a 'query' column"):
        parse_queries("a,b\n1,2\n", "pgss-csv", "x.csv")
    with pytest.raises(UserError, match="entry 1 has no string 'query' key"):
        parse_queries('[{"sql": "x"}]', "pgss-json", "x.json")
    with pytest.raises(UserError, match=r"q\.sql: not valid SQL"):
        parse_queries("SELEC 1;", "sql", "q.sql")


def test_guess_format() -> None:
    assert [guess_format(p) for p in ("a.csv", "b.JSON", "c.jsonl", "d.log", "e.sql", "f")] == [
        "pgss-csv",
        "pgss-json",
        "pgss-json",
        "log",
        "sql",
        "sql",
    ]


def test_insert_required_columns() -> None:
    named = insert_target(
        parse_queries("INSERT INTO s.t (a, b) VALUES (1, 2)", "sql", "q").queries[0].node
    )
    assert named == InsertTarget(TableName("s", "t"), ("a", "b"), None)
    assert missing_required(named, [(1, "a"), (3, "c")]) == ["c"]
    positional = insert_target(
        parse_queries("INSERT INTO t VALUES (1, 2)", "sql", "q").queries[0].node
    )
    assert positional is not None
    assert missing_required(positional, [(1, "a"), (3, "c")]) == ["c"]
    assert insert_target(parse_queries("SELECT 1", "sql", "q").queries[0].node) is None
