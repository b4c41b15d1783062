"""drop-column: the running version may still read or write the column."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if not isinstance(node, ast.AlterTableStmt) or node.objtype != ObjectType.OBJECT_TABLE:
        return
    table = TableName.from_range_var(node.relation)
    if ctx.scope.is_new(table) or ctx.phase == "contract":
        return
    for cmd in node.cmds or ():
        if cmd.subtype == AlterTableType.AT_DropColumn:
            yield Hit(
                f"dropping {table}.{cmd.name} breaks the running release if it still reads or "
                "writes the column (SELECT *, INSERT with the column, an ORM model)"
            )


RULE = Rule(
    id="drop-column",
    category="compatibility",
    summary="ALTER TABLE ... DROP COLUMN outside a contract migration",
    why=(
        "The release that is running while the migration applies may still use the column; "
        "its queries fail as soon as the drop commits. ORMs that list every mapped column in "
        "INSERT and SELECT break even when the code never reads the value."
    ),
    fix=(
        "First deploy code that no longer uses the column (and tell the ORM to ignore it). "
        "Then drop it in a migration marked '-- turnout: phase=contract': turnout's deploy "
        "gate refuses to run it while a release that predates the change is still running, "
        "and this rule does not report drops in contract migrations."
    ),
    unsafe="ALTER TABLE users DROP COLUMN legacy_flags;",
    safe="-- turnout: phase=contract\nALTER TABLE users DROP COLUMN legacy_flags;",
    check=check,
)
