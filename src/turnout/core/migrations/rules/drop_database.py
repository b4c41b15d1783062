"""drop-database: a migration that drops a database."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    if isinstance(ctx.node, ast.DropdbStmt):
        yield Hit(f"DROP DATABASE {ctx.node.dbname} destroys every table every release uses")


RULE = Rule(
    id="drop-database",
    category="compatibility",
    summary="DROP DATABASE in a migration",
    why="Nothing running against the database survives it, and no rollback brings it back.",
    fix="Drop databases by hand, outside deploys, after a backup.",
    unsafe="DROP DATABASE analytics;",
    safe="-- not in a migration: run by hand after a backup",
    check=check,
)
