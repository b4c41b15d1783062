"""create-index-concurrently: CREATE INDEX that blocks writes for the whole build."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        for effect in ctx.existing():
            yield Hit(
                f"CREATE INDEX holds SHARE on {effect.target} for the whole build: "
                "every INSERT, UPDATE and DELETE waits"
            )


RULE = Rule(
    id="create-index-concurrently",
    category="locking",
    summary="CREATE INDEX without CONCURRENTLY on an existing table",
    why=(
        "A plain CREATE INDEX takes SHARE on the table: reads continue but every write "
        "waits until the index is built, which on a large table takes minutes."
    ),
    fix=(
        "CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE, which does not block reads "
        "or writes. It cannot run inside a transaction block, and if it fails it leaves an "
        "INVALID index: drop it (DROP INDEX CONCURRENTLY) and retry. IF NOT EXISTS makes "
        "the migration re-runnable."
    ),
    unsafe="CREATE INDEX orders_created_at_idx ON orders (created_at);",
    safe="CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_at_idx ON orders (created_at);",
    check=check,
)
