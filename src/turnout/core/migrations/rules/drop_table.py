"""drop-table: the running version may still use the table or view."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule

_KINDS = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_VIEW: "view",
    ObjectType.OBJECT_MATVIEW: "materialized view",
}


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if not isinstance(node, ast.DropStmt) or node.removeType not in _KINDS:
        return
    if ctx.phase == "contract":
        return
    kind = _KINDS[ObjectType(node.removeType)]
    for obj in node.objects or ():
        name = TableName.from_names(obj)
        if not ctx.scope.is_new(name):
            yield Hit(f"dropping {kind} {name} breaks the running release if it still uses it")


RULE = Rule(
    id="drop-table",
    category="compatibility",
    summary="DROP TABLE (or VIEW, MATERIALIZED VIEW) outside a contract migration",
    why=(
        "The release running during the deploy may still read or write the table or view; "
        "every one of its queries on it fails once the drop commits, and a dropped table's "
        "data is gone for a rollback."
    ),
    fix=(
        "Deploy code that no longer uses the table first, then drop it in a migration marked "
        "'-- turnout: phase=contract', which turnout's deploy gate holds back until no older "
        "release runs. Consider renaming it aside first, so a rollback can rename it back."
    ),
    unsafe="DROP TABLE legacy_sessions;",
    safe="-- turnout: phase=contract\nDROP TABLE legacy_sessions;",
    check=check,
)
