"""Expand → migrate → contract: which phase each statement and migration belongs to.

- expand: additive changes every running release tolerates (new tables, nullable
  columns, indexes, relaxed constraints);
- migrate: data changes (backfills, copies) once code writes the new shape;
- contract: removals and tightenings (drop, rename, NOT NULL, new constraints) that
  are only safe once no running release uses the old shape.

A ``-- turnout: phase=...`` directive overrides the inference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from turnout.core.migrations.altertable import command_effect
from turnout.core.migrations.facts import is_required_column
from turnout.core.migrations.locks import Work
from turnout.core.migrations.names import TableName
from turnout.core.migrations.scope import Scope

__all__ = ["MigrationPhase", "Phase", "StatementPhase", "classify", "statement_phase"]


class Phase(IntEnum):
    EXPAND = 1
    MIGRATE = 2
    CONTRACT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class StatementPhase:
    phase: Phase
    why: str  # "adds column users.email"
    tables: frozenset[TableName]


@dataclass(frozen=True)
class MigrationPhase:
    id: str
    path: str
    phase: Phase
    declared: bool  # from a phase directive
    expand: str | None  # the expand migration a contract completes, when declared
    mixed: bool  # expand and contract statements in one migration (undeclared)
    reasons: tuple[str, ...]  # "line 3: drops column users.name (contract)"
    tables: frozenset[TableName]


_CREATES = (
    ast.CreateStmt,
    ast.CreateTableAsStmt,
    ast.ViewStmt,
    ast.CreateFunctionStmt,
    ast.CreateSeqStmt,
    ast.CreateEnumStmt,
    ast.CompositeTypeStmt,
    ast.CreateDomainStmt,
    ast.CreateExtensionStmt,
    ast.CreateTrigStmt,
    ast.IndexStmt,
    ast.CreateSchemaStmt,
    ast.CreatePolicyStmt,
)
_DATA = (
    ast.InsertStmt,
    ast.UpdateStmt,
    ast.DeleteStmt,
    ast.MergeStmt,
    ast.CopyStmt,
    ast.TruncateStmt,
    ast.CallStmt,
    ast.DoStmt,
)
_CONTRACT_COMMANDS = {
    AlterTableType.AT_SetNotNull: "sets NOT NULL on",
    AlterTableType.AT_AddConstraint: "adds a constraint to",
    AlterTableType.AT_ValidateConstraint: "validates a constraint on",
    AlterTableType.AT_DropColumn: "drops column",
    AlterTableType.AT_DropConstraint: "drops a constraint of",
}


def statement_phase(node: Any, scope: Scope) -> StatementPhase | None:
    """The phase of one statement; None for statements with none (SET, BEGIN, SELECT)."""
    if isinstance(node, _CREATES):
        rel = getattr(node, "relation", None)
        tables = (TableName.from_range_var(rel),) if rel is not None else ()
        return _make(Phase.EXPAND, _created(node), tables)
    if isinstance(node, _DATA):
        rel = getattr(node, "relation", None)
        tables = (TableName.from_range_var(rel),) if rel is not None else ()
        if tables and scope.is_new(tables[0]):
            return _make(Phase.EXPAND, f"fills new table {tables[0]}", tables)
        return _make(Phase.MIGRATE, "changes data", tables)
    if isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE:
        return _alter(node, scope)
    if isinstance(node, ast.RenameStmt) and node.renameType in (
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_COLUMN,
    ):
        table = TableName.from_range_var(node.relation)
        if scope.is_new(table):
            return None
        return _make(Phase.CONTRACT, f"renames {table}", (table,))
    if isinstance(node, ast.DropStmt):
        return _drop(node, scope)
    if isinstance(node, ast.AlterEnumStmt):
        if node.oldVal:
            return _make(Phase.CONTRACT, "renames an enum value", ())
        return _make(Phase.EXPAND, "adds an enum value", ())
    return None


_KINDS = {
    ast.CreateTableAsStmt: "a table",
    ast.ViewStmt: "a view",
    ast.CreateFunctionStmt: "a function",
    ast.CreateSeqStmt: "a sequence",
    ast.CreateEnumStmt: "an enum type",
    ast.CompositeTypeStmt: "a composite type",
    ast.CreateDomainStmt: "a domain",
    ast.CreateExtensionStmt: "an extension",
    ast.CreateTrigStmt: "a trigger",
    ast.CreateSchemaStmt: "a schema",
    ast.CreatePolicyStmt: "a policy",
}


def _created(node: Any) -> str:
    if isinstance(node, ast.CreateStmt):
        return f"creates table {TableName.from_range_var(node.relation)}"
    if isinstance(node, ast.IndexStmt):
        table = TableName.from_range_var(node.relation)
        return f"creates index {node.idxname or '(unnamed)'} on {table}"
    return f"creates {_KINDS.get(type(node), 'an object')}"


def _make(phase: Phase, why: str, tables: Iterable[TableName]) -> StatementPhase:
    return StatementPhase(phase, why, frozenset(tables))


def _alter(node: Any, scope: Scope) -> StatementPhase | None:
    table = TableName.from_range_var(node.relation)
    if scope.is_new(table):
        return _make(Phase.EXPAND, f"shapes new table {table}", (table,))
    found: list[StatementPhase] = []
    for cmd in node.cmds or ():
        found.extend(p for p in [_command(table, cmd, scope)] if p)
    if not found:
        return None
    return max(found, key=lambda p: p.phase)


def _command(table: TableName, cmd: Any, scope: Scope) -> StatementPhase | None:
    sub = cmd.subtype
    target = f"{table}.{cmd.name}" if cmd.name else str(table)
    if sub == AlterTableType.AT_AddColumn:
        required = is_required_column(cmd.def_)
        phase = Phase.CONTRACT if required else Phase.EXPAND
        what = "adds required column" if required else "adds column"
        return _make(phase, f"{what} {table}.{cmd.def_.colname}", (table,))
    if sub == AlterTableType.AT_AlterColumnType:
        if command_effect(table, cmd, scope).work is Work.CATALOG:
            return _make(Phase.EXPAND, f"widens the type of {target}", (table,))
        return _make(Phase.CONTRACT, f"changes the type of {target}", (table,))
    if sub in _CONTRACT_COMMANDS:
        return _make(Phase.CONTRACT, f"{_CONTRACT_COMMANDS[sub]} {target}", (table,))
    if sub == AlterTableType.AT_ColumnDefault:
        if cmd.def_ is None:
            return _make(Phase.CONTRACT, f"drops the default of {target}", (table,))
        return _make(Phase.EXPAND, f"sets the default of {target}", (table,))
    if sub == AlterTableType.AT_DropNotNull:
        return _make(Phase.EXPAND, f"drops NOT NULL on {target}", (table,))
    return None


def _drop(node: Any, scope: Scope) -> StatementPhase | None:
    if node.removeType == ObjectType.OBJECT_TABLE:
        tables = [TableName.from_names(o) for o in node.objects or ()]
        old = [t for t in tables if not scope.is_new(t)]
        names = ", ".join(map(str, old))
        return _make(Phase.CONTRACT, f"drops table {names}", old) if old else None
    if node.removeType == ObjectType.OBJECT_INDEX:
        return None  # the running release loses speed, not correctness
    kind = ObjectType(node.removeType).name.removeprefix("OBJECT_").lower()
    return _make(Phase.CONTRACT, f"drops a {kind}", ())


def classify(
    migration_id: str,
    path: str,
    statements: Iterable[tuple[int, StatementPhase | None]],
    declared: tuple[str, str | None] | None,
) -> MigrationPhase:
    """The phase of a whole migration from its statements' phases (``(line, phase)``)."""
    found = [(line, p) for line, p in statements if p is not None]
    reasons = tuple(f"line {line}: {p.why} ({p.phase.label})" for line, p in found)
    tables = frozenset(t for _, p in found for t in p.tables)
    phases = {p.phase for _, p in found}
    if declared is not None:
        phase = Phase[declared[0].upper()]
        return MigrationPhase(migration_id, path, phase, True, declared[1], False, reasons, tables)
    mixed = Phase.EXPAND in phases and Phase.CONTRACT in phases
    phase = max(phases, default=Phase.EXPAND)
    return MigrationPhase(migration_id, path, phase, False, None, mixed, reasons, tables)
