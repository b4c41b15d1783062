"""rename-table: the running version still queries the old table name."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule


def _view_replaces(table: TableName, ctx: Context) -> bool:
    """A later CREATE VIEW with the old name keeps old queries working."""
    return any(
        isinstance(s.node, ast.ViewStmt) and TableName.from_range_var(s.node.view) == table
        for s in ctx.following
    )


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_TABLE:
        table = TableName.from_range_var(node.relation)
        if not ctx.scope.is_new(table) and not _view_replaces(table, ctx):
            yield Hit(
                f"renaming {table} to {node.newname} breaks every query of the running release "
                f"that names {table}"
            )


RULE = Rule(
    id="rename-table",
    category="compatibility",
    summary="ALTER TABLE ... RENAME TO",
    why=(
        "The old release keeps running during the deploy; once the rename commits, its "
        "queries fail with 'relation does not exist'."
    ),
    fix=(
        "Rename, then create a view with the old name in the same transaction so both names "
        "work (a simple view is updatable; turnout does not report a rename followed by such "
        "a view); drop the view in a contract migration once no release uses the old name."
    ),
    unsafe="ALTER TABLE customers RENAME TO accounts_v2;",
    safe=(
        "BEGIN;\n"
        "ALTER TABLE customers RENAME TO accounts_v2;\n"
        "CREATE VIEW customers AS SELECT * FROM accounts_v2;\n"
        "COMMIT;\n"
        "-- contract (a later deploy): DROP VIEW customers;"
    ),
    check=check,
)
