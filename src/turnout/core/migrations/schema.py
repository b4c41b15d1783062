"""Schema facts from a schema dump (``pg_dump --schema-only`` or a hand-written file)."""

from __future__ import annotations

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.sql import SqlSyntaxError, parse_script
from turnout.errors import UserError

__all__ = ["facts_from_schema"]


def facts_from_schema(sql: str, path: str) -> SchemaFacts:
    """Learn tables, column types, constraints and indexes from ``sql``; nothing is linted."""
    try:
        script = parse_script(sql)
    except SqlSyntaxError as exc:
        line = sql[: exc.offset].count("\n") + 1
        raise UserError(f"{path}:{line}: {exc.message}; the schema file must be valid SQL") from exc
    facts = SchemaFacts()
    for stmt in script.statements:
        facts.learn(stmt.node)
    return facts
