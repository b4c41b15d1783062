"""concurrently-in-transaction: CONCURRENTLY inside a transaction block fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType

from turnout.core.migrations.rules.base import Context, Hit, Rule


def _concurrent(node: Any) -> str | None:
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt) and any(
        p.defname == "concurrently" for p in node.params or ()
    ):
        return "REINDEX CONCURRENTLY"
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if cmd.subtype == AlterTableType.AT_DetachPartition and getattr(
                cmd.def_, "concurrent", False
            ):
                return "DETACH PARTITION CONCURRENTLY"
    return None


def check(ctx: Context) -> Iterator[Hit]:
    what = _concurrent(ctx.node)
    if what and ctx.state.in_transaction:
        explicit = ctx.state.explicit_transaction
        opened = "BEGIN" if explicit else "the migration runner (assume_in_transaction)"
        yield Hit(
            f"{what} cannot run inside a transaction block (opened by {opened}); PostgreSQL "
            "rejects it and the migration fails"
        )


RULE = Rule(
    id="concurrently-in-transaction",
    category="transactions",
    summary=(
        "CREATE/DROP/REINDEX ... CONCURRENTLY or DETACH PARTITION CONCURRENTLY inside a transaction"
    ),
    why=(
        "Concurrent index builds and drops commit several transactions of their own, so "
        "PostgreSQL refuses them inside a transaction block with 'cannot run inside a "
        "transaction block'. Migration tools that wrap each migration in a transaction "
        "(Alembic on PostgreSQL, many others) hit this at deploy time."
    ),
    fix=(
        "Run the statement outside a transaction: in plain SQL, after COMMIT; in Alembic, "
        "inside `with op.get_context().autocommit_block():`. Keep it alone in its migration "
        "so a failure leaves nothing half-applied."
    ),
    unsafe=(
        "BEGIN;\nCREATE INDEX CONCURRENTLY orders_created_at_idx ON orders (created_at);\nCOMMIT;"
    ),
    safe="CREATE INDEX CONCURRENTLY orders_created_at_idx ON orders (created_at);",
    check=check,
)
