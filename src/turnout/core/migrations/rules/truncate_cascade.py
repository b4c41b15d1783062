"""truncate-cascade: TRUNCATE ... CASCADE empties every table that references this one."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.TruncateStmt) and node.behavior == DropBehavior.DROP_CASCADE:
        names = ", ".join(str(TableName.from_range_var(r)) for r in node.relations or ())
        yield Hit(
            f"TRUNCATE {names} CASCADE also empties every table with a foreign key to it, "
            "recursively, under ACCESS EXCLUSIVE"
        )


RULE = Rule(
    id="truncate-cascade",
    category="compatibility",
    summary="TRUNCATE ... CASCADE",
    why=(
        "CASCADE truncates every table that references the named ones, and the tables that "
        "reference those, in the same ACCESS EXCLUSIVE step. Which tables that is depends on "
        "foreign keys added since the migration was written."
    ),
    fix="Name every table to empty explicitly, without CASCADE, or delete rows in batches.",
    unsafe="TRUNCATE accounts CASCADE;",
    safe="DELETE FROM staging_accounts WHERE imported_at < now() - interval '30 days';",
    check=check,
)
