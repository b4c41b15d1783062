"""drop-index-concurrently: DROP INDEX that takes ACCESS EXCLUSIVE on the table."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    is_drop = isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_INDEX
    if is_drop and not node.concurrent:
        for effect in ctx.existing():
            yield Hit(
                f"DROP INDEX takes ACCESS EXCLUSIVE on {effect.target}: it waits for every "
                "running query on the table, and every query after it waits too"
            )


RULE = Rule(
    id="drop-index-concurrently",
    category="locking",
    summary="DROP INDEX without CONCURRENTLY",
    why=(
        "DROP INDEX takes ACCESS EXCLUSIVE on the index's table. The drop itself is quick, "
        "but it must wait for every transaction using the table, and all reads and writes "
        "queue behind it meanwhile."
    ),
    fix=(
        "DROP INDEX CONCURRENTLY waits for running transactions without blocking new ones. "
        "It cannot run inside a transaction block."
    ),
    unsafe="DROP INDEX orders_created_at_idx;",
    safe="DROP INDEX CONCURRENTLY IF EXISTS orders_created_at_idx;",
    check=check,
)
