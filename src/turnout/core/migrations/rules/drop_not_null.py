"""drop-not-null: the new version may write NULLs the running version does not expect."""

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
    if ctx.scope.is_new(table):
        return
    for cmd in node.cmds or ():
        if cmd.subtype == AlterTableType.AT_DropNotNull:
            yield Hit(
                f"{table}.{cmd.name} may now be NULL; the running release may read it as never NULL"
            )


RULE = Rule(
    id="drop-not-null",
    category="compatibility",
    summary="ALTER COLUMN ... DROP NOT NULL",
    why=(
        "Code written against the old schema assumes the column always has a value (a "
        "non-optional field in the ORM model). Once the new release writes NULL, the old "
        "release, still running during the deploy or after a rollback, breaks on those rows."
    ),
    fix=(
        "Deploy code that tolerates NULL in the column first; drop NOT NULL in a later "
        "release, before any code writes NULL. Suppress this finding with that reason "
        "once the tolerant code is everywhere."
    ),
    unsafe="ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;",
    safe=(
        "-- turnout: allow drop-not-null because every running release reads phone as optional\n"
        "ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;"
    ),
    check=check,
)
