"""add-required-column: a NOT NULL column with no default breaks the old version's INSERTs."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from turnout.core.migrations.facts import is_required_column
from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if not isinstance(node, ast.AlterTableStmt) or node.objtype != ObjectType.OBJECT_TABLE:
        return
    table = TableName.from_range_var(node.relation)
    if ctx.scope.is_new(table):
        return
    for cmd in node.cmds or ():
        if cmd.subtype == AlterTableType.AT_AddColumn and is_required_column(cmd.def_):
            yield Hit(
                f"{table}.{cmd.def_.colname} is NOT NULL with no default: it fails on a table "
                "with rows, and every INSERT of the running release (which does not know the "
                "column) fails",
                cmd.def_.location,
            )


RULE = Rule(
    id="add-required-column",
    category="compatibility",
    summary="ADD COLUMN ... NOT NULL without a DEFAULT",
    why=(
        "Existing rows have no value for the column, so PostgreSQL refuses it on a non-empty "
        "table; and once it exists, the old release's INSERTs, which do not mention the "
        "column, violate NOT NULL."
    ),
    fix=(
        "Add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it "
        "nullable, backfill, and make it NOT NULL in a contract migration once every running "
        "release writes it (see set-not-null for doing that without a long lock)."
    ),
    unsafe="ALTER TABLE orders ADD COLUMN currency text NOT NULL;",
    safe="ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';",
    check=check,
)
