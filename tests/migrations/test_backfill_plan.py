"""The pure half of backfills: spec validation, batch SQL, backoff."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from turnout.core.migrations.backfill import BackfillSpec, backoff_delay, batch_sql
from turnout.errors import UserError


def test_spec_defaults_and_quoting() -> None:
    spec = BackfillSpec.build(
        table="app.Users", set="email_lower = lower(email)", where="email_lower IS NULL"
    )
    assert (spec.table.schema, spec.table.name, spec.key, spec.batch_size) == (
        "app",
        "Users",
        "id",
        1000,
    )
    sql = batch_sql(spec, "bigint", first=False)
    assert '"app"."Users"' in sql
    assert 'WHERE "id" > CAST(%(after)s AS bigint)' in sql
    assert "AND (email_lower IS NULL)" in sql
    assert "CAST(%(after)s" not in batch_sql(spec, "bigint", first=True)
    parse_sql(sql.replace("%(after)s", "'1'").replace("%(limit)s", "10"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"set": "a = "}, "--set does not parse as PostgreSQL"),
        ({"set": "a = 1; DROP TABLE t"}, "--set must not contain ';' or further statements"),
        ({"set": "a = 1 FROM other WHERE true"}, "--set takes only assignments"),
        ({"set": "a = 1", "where": "b = 1; DELETE FROM t"}, "--where does not parse"),
        ({"set": "a = 1", "batch_size": 0}, "--batch-size must be at least 1, not 0"),
        ({"set": "a = 1", "name": "bad name!"}, "--name 'bad name!'"),
        ({"set": "a = 1", "table": "a.b.c"}, "--table 'a.b.c': use table or schema.table"),
    ],
)
def test_invalid_specs(kwargs: dict[str, object], message: str) -> None:
    args = {"table": "t", **kwargs}
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BackfillSpec.build(**args)  # type: ignore[arg-type]


def test_where_cannot_escape_its_parentheses() -> None:
    spec = BackfillSpec.build(table="t", set="a = 1", where="b IS NULL) OR (true")
    assert spec.where == "b IS NULL OR TRUE"
    assert "AND (b IS NULL OR TRUE)" in batch_sql(spec, "bigint", first=True)


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert [backoff_delay(a, 0.0) for a in (1, 2, 3, 4)] == [0.05, 0.1, 0.2, 0.4]
    assert [backoff_delay(a, 1.0) for a in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert backoff_delay(20, 0.5) == pytest.approx(7.5)
