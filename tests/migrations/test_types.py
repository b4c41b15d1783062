"""Which type changes PostgreSQL makes without a rewrite (checked against a server in
test_verify_corpus.py; here the table itself)."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from turnout.core.migrations.types import column_type, is_binary_coercible
from turnout.core.migrations.volatility import volatile_calls


def _type(sql_type: str):
    stmt = parse_sql(f"CREATE TABLE t (c {sql_type})")[0].stmt
    return column_type(stmt.tableElts[0].typeName)


@pytest.mark.parametrize(
    ("old", "new", "coercible"),
    [
        ("varchar(10)", "text", True),
        ("varchar(10)", "varchar(20)", True),
        ("varchar(10)", "varchar", True),
        ("character varying(10)", "varchar(10)", True),
        ("varchar(20)", "varchar(10)", False),
        ("text", "varchar", True),
        ("text", "varchar(10)", False),
        ("numeric(10,2)", "numeric(12,2)", True),
        ("numeric(10,2)", "numeric", True),
        ("numeric(10,2)", "numeric(12,3)", False),
        ("numeric", "numeric(12,2)", False),
        ("cidr", "inet", True),
        ("integer", "bigint", False),
        ("int", "int4", True),
        ("timestamp", "timestamptz", False),
        ("char(4)", "text", False),
        ("text[]", "text", False),
    ],
)
def test_binary_coercible(old: str, new: str, coercible: bool) -> None:
    assert is_binary_coercible(_type(old), _type(new)) is coercible


@pytest.mark.parametrize(
    ("expr", "volatile"),
    [
        ("now()", []),
        ("CURRENT_TIMESTAMP", []),
        ("lower('X') || 'y'", []),
        ("'{}'::jsonb", []),
        ("clock_timestamp()", ["clock_timestamp"]),
        ("coalesce(random(), 0)", ["random"]),
        ("my_function()", ["my_function"]),
    ],
)
def test_volatile_calls(expr: str, volatile: list[str]) -> None:
    node = parse_sql(f"SELECT {expr}")[0].stmt.targetList[0].val
    assert volatile_calls(node) == volatile


def test_declared_volatility_wins() -> None:
    node = parse_sql("SELECT my_function()")[0].stmt.targetList[0].val
    assert volatile_calls(node, {"my_function": False}) == []
