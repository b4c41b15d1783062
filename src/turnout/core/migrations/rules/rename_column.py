"""rename-column: the running version still queries the old name."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_COLUMN:
        table = TableName.from_range_var(node.relation)
        if not ctx.scope.is_new(table):
            yield Hit(
                f"renaming {table}.{node.subname} to {node.newname} breaks every query of the "
                f"running release that names {node.subname}"
            )


RULE = Rule(
    id="rename-column",
    category="compatibility",
    summary="ALTER TABLE ... RENAME COLUMN",
    why=(
        "During a deploy the old release keeps running against the new schema. The moment "
        "the rename commits, its queries naming the old column fail with 'column does not "
        "exist'; no release can work with both names."
    ),
    fix=(
        "Expand: add the new column (or a view exposing both names); deploy code that writes "
        "both and reads the new one; backfill. Contract, once no release uses the old name: "
        "drop the old column."
    ),
    unsafe="ALTER TABLE users RENAME COLUMN name TO full_name;",
    safe=(
        "-- expand\n"
        "ALTER TABLE users ADD COLUMN full_name text;\n"
        "-- migrate: backfill full_name from name in batches, write both from the app\n"
        "-- contract (a later deploy): ALTER TABLE users DROP COLUMN name;"
    ),
    check=check,
)
