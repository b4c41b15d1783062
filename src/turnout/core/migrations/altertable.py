"""Lock and work of each ``ALTER TABLE`` subcommand.

Facts from the ALTER TABLE reference (Description and Notes) and "Explicit
Locking"; every claim here is checked against a running server by
tests/migrations/test_verify_postgres.py. Subcommands not listed take ACCESS
EXCLUSIVE, as the reference says for ALTER TABLE unless noted otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from turnout.core.migrations.ast import strings
from turnout.core.migrations.locks import Cause, Effect, LockMode, Reason, Work
from turnout.core.migrations.names import TableName
from turnout.core.migrations.scope import Scope
from turnout.core.migrations.types import SERIAL_TYPES, column_type, is_binary_coercible
from turnout.core.migrations.volatility import KNOWN_VOLATILE, volatile_calls

__all__ = ["CommandEffect", "command_effect"]

AE = LockMode.ACCESS_EXCLUSIVE
SUE = LockMode.SHARE_UPDATE_EXCLUSIVE
SRE = LockMode.SHARE_ROW_EXCLUSIVE

_SUE_COMMANDS = frozenset(
    {
        AlterTableType.AT_SetStatistics,
        AlterTableType.AT_SetOptions,
        AlterTableType.AT_ResetOptions,
        AlterTableType.AT_SetRelOptions,
        AlterTableType.AT_ResetRelOptions,
        AlterTableType.AT_ClusterOn,
        AlterTableType.AT_DropCluster,
        AlterTableType.AT_ValidateConstraint,
    }
)
_TRIGGER_COMMANDS = frozenset(
    {
        AlterTableType.AT_EnableTrig,
        AlterTableType.AT_EnableAlwaysTrig,
        AlterTableType.AT_EnableReplicaTrig,
        AlterTableType.AT_DisableTrig,
        AlterTableType.AT_EnableTrigAll,
        AlterTableType.AT_DisableTrigAll,
        AlterTableType.AT_EnableTrigUser,
        AlterTableType.AT_DisableTrigUser,
    }
)
_REWRITE_COMMANDS = {
    AlterTableType.AT_SetLogged: "SET LOGGED",
    AlterTableType.AT_SetUnLogged: "SET UNLOGGED",
    AlterTableType.AT_SetTableSpace: "SET TABLESPACE",
    AlterTableType.AT_SetAccessMethod: "SET ACCESS METHOD",
}


_REWRITE_CAUSES = frozenset(
    {
        Cause.VOLATILE_DEFAULT,
        Cause.STORED_GENERATED,
        Cause.SERIAL_COLUMN,
        Cause.IDENTITY_COLUMN,
        Cause.DEFAULT_BEFORE_11,
    }
)


@dataclass(frozen=True)
class CommandEffect:
    mode: LockMode
    work: Work = Work.CATALOG
    reasons: tuple[Reason, ...] = ()
    others: tuple[Effect, ...] = ()  # locks on other tables (the referenced side of a FK)


def command_effect(table: TableName, cmd: Any, scope: Scope) -> CommandEffect:
    sub = cmd.subtype
    if sub == AlterTableType.AT_AddColumn:
        return _add_column(table, cmd.def_, scope)
    if sub == AlterTableType.AT_AlterColumnType:
        return _alter_type(table, cmd.name, cmd.def_, scope)
    if sub == AlterTableType.AT_SetNotNull:
        return _set_not_null(table, cmd.name, scope)
    if sub == AlterTableType.AT_AddConstraint:
        return _add_constraint(table, cmd.def_, scope)
    if sub == AlterTableType.AT_ValidateConstraint:
        reason = Reason(Cause.VALIDATE, f"VALIDATE CONSTRAINT {cmd.name} reads every row")
        return CommandEffect(SUE, Work.SCAN, (reason,))
    if sub in _SUE_COMMANDS:
        return CommandEffect(SUE)
    if sub in _TRIGGER_COMMANDS:
        return CommandEffect(SRE)
    if sub in _REWRITE_COMMANDS:
        reason = Reason(Cause.TABLE_REWRITE, f"{_REWRITE_COMMANDS[sub]} copies the whole table")
        return CommandEffect(AE, Work.REWRITE, (reason,))
    if sub == AlterTableType.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
        return CommandEffect(SUE)
    return CommandEffect(AE)


def _add_column(table: TableName, coldef: Any, scope: Scope) -> CommandEffect:
    reasons: list[Reason] = []
    others: list[Effect] = []
    ctype = column_type(coldef.typeName)
    where = coldef.location
    has_default = False
    if ctype.name in SERIAL_TYPES:
        reasons.append(
            Reason(Cause.SERIAL_COLUMN, f"{ctype.name} fills every row from a sequence", where)
        )
    for con in coldef.constraints or ():
        kind = con.contype
        if kind == ConstrType.CONSTR_DEFAULT and not _is_null(con.raw_expr):
            has_default = True
            reasons.extend(_default_reasons(con.raw_expr, scope, con.location))
        elif kind == ConstrType.CONSTR_IDENTITY:
            reasons.append(
                Reason(Cause.IDENTITY_COLUMN, "an identity column fills every row", where)
            )
        elif kind == ConstrType.CONSTR_GENERATED:
            reasons.append(
                Reason(
                    Cause.STORED_GENERATED,
                    "a stored generated column is computed for every row",
                    where,
                )
            )
        elif kind == ConstrType.CONSTR_CHECK:
            reasons.append(
                Reason(Cause.CHECK_SCAN, "the CHECK is tested on every row", con.location)
            )
        elif kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY):
            reasons.append(Reason(Cause.CONSTRAINT_INDEX, "builds a unique index", con.location))
        elif kind == ConstrType.CONSTR_FOREIGN:
            others.append(_referenced(con, scope, validate=False))
    if has_default and any(c.contype == ConstrType.CONSTR_FOREIGN for c in coldef.constraints):
        reasons.append(
            Reason(Cause.FOREIGN_KEY_SCAN, "the default is checked against the referenced table")
        )
    return _combine(AE, reasons, others, scope.is_new(table))


def _is_null(expr: Any) -> bool:
    return isinstance(expr, ast.A_Const) and bool(expr.isnull)


def _default_reasons(expr: Any, scope: Scope, where: int | None) -> list[Reason]:
    calls = volatile_calls(expr, scope.facts.functions)
    if calls:
        known = [c for c in calls if c in KNOWN_VOLATILE or scope.facts.functions.get(c)]
        name = (known or calls)[0]
        how = "is VOLATILE" if known else "is not known to be STABLE or IMMUTABLE"
        return [Reason(Cause.VOLATILE_DEFAULT, f"the default {name}() {how}", where)]
    if scope.postgres_version < 11:
        return [
            Reason(
                Cause.DEFAULT_BEFORE_11,
                "before PostgreSQL 11 every default is written to every row",
                where,
            )
        ]
    return []


def _alter_type(table: TableName, column: str, coldef: Any, scope: Scope) -> CommandEffect:
    new = column_type(coldef.typeName)
    using = coldef.raw_default
    where = coldef.location
    old = scope.facts.column(table, column)
    if using is not None and strings(getattr(using, "fields", None)) != (column,):
        reason = Reason(Cause.TYPE_CHANGE, f"USING computes {column} again for every row", where)
    elif old is None:
        reason = Reason(
            Cause.TYPE_CHANGE_UNKNOWN,
            f"turnout cannot see the current type of {table}.{column}; changing it to {new} "
            "rewrites the table unless the old type is binary-coercible",
            where,
        )
    elif is_binary_coercible(old.type, new):
        return CommandEffect(AE)
    else:
        reason = Reason(Cause.TYPE_CHANGE, f"{old.type} → {new} is not binary-coercible", where)
    return _combine(AE, [reason], [], scope.is_new(table), work=Work.REWRITE)


def _set_not_null(table: TableName, column: str, scope: Scope) -> CommandEffect:
    known = scope.facts.column(table, column)
    if known is not None and known.not_null:
        return CommandEffect(AE)
    if scope.postgres_version >= 12 and scope.facts.proves_not_null(table, column):
        return CommandEffect(AE)
    reason = Reason(Cause.NOT_NULL_SCAN, f"every row is read to prove {column} has no NULL")
    return _combine(AE, [reason], [], scope.is_new(table))


def _add_constraint(table: TableName, con: Any, scope: Scope) -> CommandEffect:
    kind = con.contype
    new = scope.is_new(table)
    if kind == ConstrType.CONSTR_CHECK:
        if con.skip_validation:
            return CommandEffect(AE)
        reason = Reason(Cause.CHECK_SCAN, "the CHECK is tested on every row", con.location)
        return _combine(AE, [reason], [], new)
    if kind == ConstrType.CONSTR_FOREIGN:
        validate = not con.skip_validation and not new
        other = _referenced(con, scope, validate=validate)
        reasons = [
            Reason(
                Cause.FOREIGN_KEY_SCAN,
                "every row is checked against the referenced table",
                con.location,
            )
        ]
        return _combine(SRE, reasons if validate else [], [other], new)
    if kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and con.indexname:
        return _constraint_using_index(table, con, scope)
    if kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_EXCLUSION):
        reason = Reason(
            Cause.CONSTRAINT_INDEX, "builds its index while holding ACCESS EXCLUSIVE", con.location
        )
        return _combine(AE, [reason], [], new)
    return CommandEffect(AE)


def _constraint_using_index(table: TableName, con: Any, scope: Scope) -> CommandEffect:
    # PRIMARY KEY USING INDEX also makes the index's columns NOT NULL: a scan for
    # each column not already proven NOT NULL.
    index = scope.facts.indexes.get(con.indexname)
    if con.contype != ConstrType.CONSTR_PRIMARY or index is None:
        return CommandEffect(AE)
    for column in index.columns:
        scan = _set_not_null(table, column, scope)
        if scan.work is not Work.CATALOG:
            return scan
    return CommandEffect(AE)


def _referenced(con: Any, scope: Scope, *, validate: bool) -> Effect:
    ref = TableName.from_range_var(con.pktable)
    work = Work.SCAN if validate else Work.CATALOG
    reasons = (
        (Reason(Cause.FOREIGN_KEY_SCAN, f"{ref} is read to check every row", con.location),)
        if validate
        else ()
    )
    return Effect(ref, SRE, work, reasons, scope.is_new(ref))


def _combine(
    mode: LockMode,
    reasons: list[Reason],
    others: list[Effect],
    new: bool,
    work: Work | None = None,
) -> CommandEffect:
    if new or not reasons:
        return CommandEffect(mode, Work.CATALOG, (), tuple(others))
    if work is None:
        work = Work.REWRITE if any(r.cause in _REWRITE_CAUSES for r in reasons) else Work.SCAN
    return CommandEffect(mode, work, tuple(reasons), tuple(others))
