"""integer-primary-key: a 32-bit (or 16-bit) primary key runs out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from turnout.core.migrations.ast import strings
from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules.base import Context, Hit, Rule
from turnout.core.migrations.types import SMALL_INT_TYPES, column_type


def _inline_pk(coldef: Any) -> bool:
    return any(c.contype == ConstrType.CONSTR_PRIMARY for c in coldef.constraints or ())


def _small(coldef: Any) -> str | None:
    name = column_type(coldef.typeName).name
    return name if name in SMALL_INT_TYPES and not column_type(coldef.typeName).array else None


def _hit(table: TableName, column: str, type_name: str, where: int | None) -> Hit:
    return Hit(
        f"primary key {table}.{column} is {type_name}: it overflows at "
        f"{'32,767' if type_name in ('int2', 'smallserial') else '2,147,483,647'} rows inserted "
        "and widening it later rewrites the table",
        where,
    )


def _create(node: Any) -> Iterator[Hit]:
    table = TableName.from_range_var(node.relation)
    columns = {e.colname: e for e in node.tableElts or () if isinstance(e, ast.ColumnDef)}
    for col in columns.values():
        small = _small(col)
        if small and _inline_pk(col):
            yield _hit(table, str(col.colname), small, col.location)
    for con in node.tableElts or ():
        if isinstance(con, ast.Constraint) and con.contype == ConstrType.CONSTR_PRIMARY:
            for key in strings(con.keys):
                small = _small(columns[key]) if key in columns else None
                if small:
                    yield _hit(table, key, small, con.location)


def _alter(node: Any, ctx: Context) -> Iterator[Hit]:
    table = TableName.from_range_var(node.relation)
    for cmd in node.cmds or ():
        if cmd.subtype == AlterTableType.AT_AddColumn and _inline_pk(cmd.def_):
            small = _small(cmd.def_)
            if small:
                yield _hit(table, cmd.def_.colname, small, cmd.def_.location)
        elif (
            cmd.subtype == AlterTableType.AT_AddConstraint
            and cmd.def_.contype == ConstrType.CONSTR_PRIMARY
        ):
            for key in strings(cmd.def_.keys):
                known = ctx.scope.facts.column(table, key)
                if known and known.type.name in SMALL_INT_TYPES:
                    yield _hit(table, key, known.type.name, cmd.def_.location)


def check(ctx: Context) -> Iterator[Hit]:
    node = ctx.node
    if isinstance(node, ast.CreateStmt):
        yield from _create(node)
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE:
        yield from _alter(node, ctx)


RULE = Rule(
    id="integer-primary-key",
    category="schema",
    summary="A primary key of type integer/serial or smallint/smallserial",
    why=(
        "A 32-bit key runs out at 2,147,483,647 (sequences never reuse values, so deleted "
        "rows count too), and inserts then fail. Changing the column to bigint is a full "
        "rewrite of the table and of every table whose foreign keys point at it."
    ),
    fix="Use bigint: bigint GENERATED ALWAYS AS IDENTITY (or bigserial).",
    unsafe="CREATE TABLE invoices (id serial PRIMARY KEY, total numeric(12, 2));",
    safe=(
        "CREATE TABLE invoices (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    total numeric(12, 2)\n"
        ");"
    ),
    check=check,
)
