"""What one statement does to each table: the lock it takes and the work it does.

This is the model every lock rule reads, and the claim the PostgreSQL
verification tests check statement by statement (pg_locks for the lock,
relfilenode for a rewrite, pg_stat_xact_user_tables.seq_scan for a scan).
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import ConstrType, ObjectType, ReindexObjectType

from turnout.core.migrations.altertable import command_effect
from turnout.core.migrations.ast import strings
from turnout.core.migrations.locks import Cause, Effect, LockMode, Reason, Work
from turnout.core.migrations.names import TableName
from turnout.core.migrations.scope import Scope

__all__ = ["statement_effects"]

AE = LockMode.ACCESS_EXCLUSIVE
SUE = LockMode.SHARE_UPDATE_EXCLUSIVE


def statement_effects(node: Any, scope: Scope) -> list[Effect]:
    """The table effects of ``node``, one per table (strongest lock, most work)."""
    handler = _HANDLERS.get(type(node))
    return _merge(handler(node, scope)) if handler else []


def _alter_table(node: Any, scope: Scope) -> list[Effect]:
    if node.objtype != ObjectType.OBJECT_TABLE:
        return []
    table = TableName.from_range_var(node.relation)
    effects: list[Effect] = []
    for cmd in node.cmds or ():
        ce = command_effect(table, cmd, scope)
        effects.append(Effect(table, ce.mode, ce.work, ce.reasons, scope.is_new(table)))
        effects.extend(ce.others)
    return effects


def _index(node: Any, scope: Scope) -> list[Effect]:
    table = TableName.from_range_var(node.relation)
    if scope.is_new(table):
        return [Effect(table, LockMode.SHARE, new=True)]
    mode = SUE if node.concurrent else LockMode.SHARE
    how = "builds the index without blocking writes" if node.concurrent else "builds the index"
    reason = Reason(Cause.INDEX_BUILD, f"{how}, reading every row")
    return [Effect(table, mode, Work.SCAN, (reason,))]


def _drop(node: Any, scope: Scope) -> list[Effect]:
    kind = node.removeType
    if kind == ObjectType.OBJECT_TABLE:
        tables = [TableName.from_names(o) for o in node.objects or ()]
        return [Effect(t, AE, new=scope.is_new(t)) for t in tables]
    if kind == ObjectType.OBJECT_INDEX:
        mode = SUE if node.concurrent else AE
        return [_on_index(strings(o)[-1], mode, scope) for o in node.objects or ()]
    return []


def _on_index(index: str, mode: LockMode, scope: Scope, work: Work = Work.CATALOG) -> Effect:
    known = scope.facts.indexes.get(index)
    new = known is not None and scope.is_new(known.table)
    table = known.table if known else None
    return Effect(table, mode, work, new=new, index=None if known else index)


def _rename(node: Any, scope: Scope) -> list[Effect]:
    kind = node.renameType
    if kind in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT):
        table = TableName.from_range_var(node.relation)
        return [Effect(table, AE, new=scope.is_new(table))]
    return []  # ALTER INDEX ... RENAME locks only the index


def _create(node: Any, scope: Scope) -> list[Effect]:
    """A new table locks only the tables its foreign keys reference."""
    effects: list[Effect] = []
    for con in _constraints(node):
        if con.contype == ConstrType.CONSTR_FOREIGN and con.pktable is not None:
            ref = TableName.from_range_var(con.pktable)
            effects.append(Effect(ref, LockMode.SHARE_ROW_EXCLUSIVE, new=scope.is_new(ref)))
    return effects


def _constraints(node: Any) -> list[Any]:
    found = []
    for elt in node.tableElts or ():
        if isinstance(elt, ast.Constraint):
            found.append(elt)
        elif isinstance(elt, ast.ColumnDef):
            found.extend(elt.constraints or ())
    return found


def _truncate(node: Any, scope: Scope) -> list[Effect]:
    reason = Reason(Cause.TRUNCATE, "TRUNCATE swaps in a new, empty file")
    tables = [TableName.from_range_var(r) for r in node.relations or ()]
    return [Effect(t, AE, Work.REWRITE, (reason,), scope.is_new(t)) for t in tables]


def _dml(node: Any, scope: Scope) -> list[Effect]:
    table = TableName.from_range_var(node.relation)
    reason = Reason(Cause.DML, f"{type(node).__name__.removesuffix('Stmt').upper()} changes rows")
    return [Effect(table, LockMode.ROW_EXCLUSIVE, Work.ROWS, (reason,), scope.is_new(table))]


def _copy(node: Any, scope: Scope) -> list[Effect]:
    if not node.is_from or node.relation is None:
        return []
    return _dml(node, scope)


def _lock(node: Any, scope: Scope) -> list[Effect]:
    mode = LockMode(int(node.mode))
    tables = [TableName.from_range_var(r) for r in node.relations or ()]
    return [Effect(t, mode, new=scope.is_new(t)) for t in tables]


def _cluster(node: Any, scope: Scope) -> list[Effect]:
    if node.relation is None:
        return []
    table = TableName.from_range_var(node.relation)
    return [_rewrite(table, "CLUSTER", scope)]


def _vacuum(node: Any, scope: Scope) -> list[Effect]:
    full = any(o.defname == "full" for o in node.options or ())
    if not full or not node.is_vacuumcmd:
        return []
    return [
        _rewrite(TableName.from_range_var(r.relation), "VACUUM FULL", scope)
        for r in node.rels or ()
    ]


def _rewrite(table: TableName, what: str, scope: Scope) -> Effect:
    reason = Reason(Cause.TABLE_REWRITE, f"{what} copies the whole table")
    new = scope.is_new(table)
    return Effect(table, AE, Work.CATALOG if new else Work.REWRITE, () if new else (reason,), new)


def _reindex(node: Any, scope: Scope) -> list[Effect]:
    concurrent = any(p.defname == "concurrently" for p in node.params or ())
    mode = SUE if concurrent else LockMode.SHARE
    if node.kind == ReindexObjectType.REINDEX_OBJECT_TABLE and node.relation is not None:
        table = TableName.from_range_var(node.relation)
        return [Effect(table, mode, Work.SCAN, (), scope.is_new(table))]
    if node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX and node.relation is not None:
        return [_on_index(node.relation.relname, mode, scope, Work.SCAN)]
    return []


def _trigger(node: Any, scope: Scope) -> list[Effect]:
    table = TableName.from_range_var(node.relation)
    return [Effect(table, LockMode.SHARE_ROW_EXCLUSIVE, new=scope.is_new(table))]


def _domain(node: Any, scope: Scope) -> list[Effect]:
    """Checking a domain constraint takes SHARE on, and reads, every table using the domain."""
    con: Any = node.def_
    checks = (node.subtype == "C" and con is not None and not con.skip_validation) or (
        node.subtype == "V"
    )
    if not checks:
        return []
    domain = strings(node.typeName)[-1]
    reason = Reason(Cause.DOMAIN_CHECK, f"every value of domain {domain} is checked")
    return [
        Effect(table, LockMode.SHARE, Work.SCAN, (reason,), scope.is_new(table))
        for table in scope.facts.tables_using_type(domain)
    ]


def _merge(effects: list[Effect]) -> list[Effect]:
    """One effect per table: the strongest lock, the most work, every reason."""
    merged: dict[tuple[TableName | None, str | None], Effect] = {}
    for e in effects:
        key = (e.table, e.index)
        prev = merged.get(key)
        if prev is None:
            merged[key] = e
            continue
        merged[key] = Effect(
            e.table,
            max(prev.mode, e.mode),
            max(prev.work, e.work),
            prev.reasons + e.reasons,
            prev.new and e.new,
            e.index,
        )
    return list(merged.values())


_HANDLERS: dict[type, Any] = {
    ast.AlterTableStmt: _alter_table,
    ast.IndexStmt: _index,
    ast.DropStmt: _drop,
    ast.RenameStmt: _rename,
    ast.CreateStmt: _create,
    ast.TruncateStmt: _truncate,
    ast.UpdateStmt: _dml,
    ast.DeleteStmt: _dml,
    ast.InsertStmt: _dml,
    ast.MergeStmt: _dml,
    ast.CopyStmt: _copy,
    ast.LockStmt: _lock,
    ast.ClusterStmt: _cluster,
    ast.VacuumStmt: _vacuum,
    ast.ReindexStmt: _reindex,
    ast.CreateTrigStmt: _trigger,
    ast.AlterDomainStmt: _domain,
}
