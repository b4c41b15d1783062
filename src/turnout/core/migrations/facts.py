"""What turnout knows about the schema the migrations run against.

Facts come from earlier statements in the same lint run (earlier files, earlier
Alembic revisions) and from an optional schema dump (``pg_dump --schema-only``).
They let the rules tell a safe change from an unsafe one: ``varchar(20) → text``
needs the old type, ``SET NOT NULL`` is cheap only with a validated
``CHECK (col IS NOT NULL)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, NullTestType, ObjectType

from turnout.core.migrations.ast import strings
from turnout.core.migrations.names import TableName
from turnout.core.migrations.types import SERIAL_TYPES, ColumnType, column_type

__all__ = [
    "ColumnFacts",
    "IndexFacts",
    "SchemaFacts",
    "TableFacts",
    "is_required_column",
    "not_null_column_of_check",
]


@dataclass
class ColumnFacts:
    type: ColumnType
    not_null: bool = False


@dataclass
class TableFacts:
    columns: dict[str, ColumnFacts] = field(default_factory=dict)
    # constraint name → (column proven NOT NULL by the CHECK, or None; validated?)
    checks: dict[str, tuple[str | None, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexFacts:
    table: TableName
    columns: tuple[str, ...]  # plain column keys only; expressions are left out


@dataclass
class SchemaFacts:
    tables: dict[TableName, TableFacts] = field(default_factory=dict)
    indexes: dict[str, IndexFacts] = field(default_factory=dict)
    functions: dict[str, bool] = field(default_factory=dict)  # name → declared VOLATILE

    def column(self, table: TableName, name: str) -> ColumnFacts | None:
        t = self.tables.get(table)
        return t.columns.get(name) if t else None

    def tables_using_type(self, type_name: str) -> list[TableName]:
        """Tables with a column of type (or domain) ``type_name``."""
        return [
            name
            for name, table in self.tables.items()
            if any(c.type.name == type_name for c in table.columns.values())
        ]

    def proves_not_null(self, table: TableName, column: str) -> bool:
        """A validated CHECK constraint on ``table`` proves ``column IS NOT NULL``."""
        t = self.tables.get(table)
        return t is not None and any(c == column and v for c, v in t.checks.values())

    def learn(self, node: Any) -> None:
        """Update the facts with what ``node`` did once it ran."""
        if isinstance(node, ast.CreateStmt):
            self._learn_create(node)
        elif isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE:
            table = TableName.from_range_var(node.relation)
            for cmd in node.cmds or ():
                self._learn_alter(table, cmd)
        elif isinstance(node, ast.IndexStmt) and node.idxname:
            columns = tuple(p.name for p in node.indexParams or () if p.name)
            self.indexes[node.idxname] = IndexFacts(
                TableName.from_range_var(node.relation), columns
            )
        elif isinstance(node, ast.DropStmt):
            self._learn_drop(node)
        elif isinstance(node, ast.RenameStmt):
            self._learn_rename(node)
        elif isinstance(node, ast.CreateFunctionStmt):
            self.functions[strings(node.funcname)[-1].lower()] = _declared_volatile(node)

    def _learn_create(self, node: Any) -> None:
        facts = self.tables[TableName.from_range_var(node.relation)] = TableFacts()
        for elt in node.tableElts or ():
            if isinstance(elt, ast.ColumnDef) and elt.typeName is not None and elt.colname:
                facts.columns[elt.colname] = ColumnFacts(column_type(elt.typeName), _not_null(elt))
            elif isinstance(elt, ast.Constraint):
                _learn_constraint(facts, elt)
        for elt in node.tableElts or ():
            if isinstance(elt, ast.ColumnDef):
                for con in elt.constraints or ():
                    if con.contype == ConstrType.CONSTR_CHECK:
                        _learn_constraint(facts, con)

    def _learn_alter(self, table: TableName, cmd: Any) -> None:
        sub = cmd.subtype
        if sub in (AlterTableType.AT_AddConstraint, AlterTableType.AT_ValidateConstraint):
            # Constraints are worth knowing even on a table whose columns we never saw.
            self.tables.setdefault(table, TableFacts())
        facts = self.tables.get(table)
        if facts is None:
            return
        if sub == AlterTableType.AT_AddColumn and cmd.def_.typeName is not None:
            facts.columns[cmd.def_.colname] = ColumnFacts(
                column_type(cmd.def_.typeName), _not_null(cmd.def_)
            )
        elif sub == AlterTableType.AT_DropColumn:
            facts.columns.pop(cmd.name, None)
        elif sub == AlterTableType.AT_AlterColumnType and cmd.name in facts.columns:
            facts.columns[cmd.name].type = column_type(cmd.def_.typeName)
        elif sub in (AlterTableType.AT_SetNotNull, AlterTableType.AT_DropNotNull):
            if cmd.name in facts.columns:
                facts.columns[cmd.name].not_null = sub == AlterTableType.AT_SetNotNull
        elif sub == AlterTableType.AT_AddConstraint:
            _learn_constraint(facts, cmd.def_)
        elif sub == AlterTableType.AT_ValidateConstraint and cmd.name in facts.checks:
            facts.checks[cmd.name] = (facts.checks[cmd.name][0], True)
        elif sub == AlterTableType.AT_DropConstraint:
            facts.checks.pop(cmd.name, None)

    def _learn_drop(self, node: Any) -> None:
        for obj in node.objects or ():
            if node.removeType == ObjectType.OBJECT_TABLE:
                self.tables.pop(TableName.from_names(obj), None)
            elif node.removeType == ObjectType.OBJECT_INDEX:
                self.indexes.pop(strings(obj)[-1], None)

    def _learn_rename(self, node: Any) -> None:
        if node.relation is None:
            return
        table = TableName.from_range_var(node.relation)
        if node.renameType == ObjectType.OBJECT_TABLE and table in self.tables:
            self.tables[TableName(table.schema, node.newname)] = self.tables.pop(table)
        elif node.renameType == ObjectType.OBJECT_COLUMN and table in self.tables:
            cols = self.tables[table].columns
            if node.subname in cols:
                cols[node.newname] = cols.pop(node.subname)


def _not_null(coldef: Any) -> bool:
    if coldef.is_not_null:
        return True
    kinds = {c.contype for c in coldef.constraints or ()}
    return bool(kinds & {ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY})


_FILLED = frozenset(
    {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED}
)


def is_required_column(coldef: Any) -> bool:
    """A new column every INSERT must name: NOT NULL, and nothing fills it in."""
    kinds = {c.contype for c in coldef.constraints or ()}
    filled = bool(kinds & _FILLED) or column_type(coldef.typeName).name in SERIAL_TYPES
    return _not_null(coldef) and not filled


def _learn_constraint(facts: TableFacts, con: Any) -> None:
    if con.contype == ConstrType.CONSTR_PRIMARY:
        for key in strings(con.keys):
            if key in facts.columns:
                facts.columns[key].not_null = True
    elif con.contype == ConstrType.CONSTR_CHECK and con.conname:
        facts.checks[con.conname] = (
            not_null_column_of_check(con.raw_expr),
            not con.skip_validation,
        )


def not_null_column_of_check(expr: Any) -> str | None:
    """``col IS NOT NULL`` (alone or AND-ed with more) → ``col``."""
    if isinstance(expr, ast.NullTest) and expr.nulltesttype == NullTestType.IS_NOT_NULL:
        fields = strings(getattr(expr.arg, "fields", None))
        return fields[-1] if isinstance(expr.arg, ast.ColumnRef) and fields else None
    if isinstance(expr, ast.BoolExpr) and expr.boolop == 0:  # AND_EXPR
        for arg in expr.args or ():
            found = not_null_column_of_check(arg)
            if found:
                return found
    return None


def _declared_volatile(node: Any) -> bool:
    for opt in node.options or ():
        if opt.defname == "volatility" and isinstance(opt.arg, ast.String):
            return bool(opt.arg.sval == "volatile")
    return True
