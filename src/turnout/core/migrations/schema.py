"""Schema facts from a schema dump (``pg_dump --schema-only`` or a hand-written file)."""

from __future__ import annotations

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.sql import SqlSyntaxError, parse_script
from turnout.errors import UserError

__all__ = ["facts_from_schema", "strip_psql_meta"]


def strip_psql_meta(sql: str) -> str:
    """Blank out psql meta-commands (``\\restrict``, ``\\connect``) that pg_dump writes;
    they are not SQL. Line numbers stay the same."""
    return "\n".join("" if line.lstrip().startswith("\\") else line for line in sql.split("\n"))


def facts_from_schema(sql: str, path: str) -> SchemaFacts:
    """Learn tables, column types, constraints and indexes from ``sql``; nothing is linted."""
    sql = strip_psql_meta(sql)
    try:
        script = parse_script(sql)
    except SqlSyntaxError as exc:
        line = sql[: exc.offset].count("\n") + 1
        raise UserError(f"{path}:{line}: {exc.message}; the schema file must be valid SQL") from exc
    facts = SchemaFacts()
    for stmt in script.statements:
        facts.learn(stmt.node)
    return facts
