"""The linter's running state inside one migration: transaction, timeouts, locks held.

Pure bookkeeping: ``advance`` applies a statement after the rules have seen it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import TransactionStmtKind, VariableSetKind

from turnout.core.migrations.ast import const_value, func_name
from turnout.core.migrations.locks import Effect, LockMode
from turnout.core.migrations.names import TableName

__all__ = ["HeldLock", "MigrationState"]

_BEGIN = frozenset({TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START})
_END = frozenset(
    {
        TransactionStmtKind.TRANS_STMT_COMMIT,
        TransactionStmtKind.TRANS_STMT_ROLLBACK,
        TransactionStmtKind.TRANS_STMT_PREPARE,
    }
)
_TIMEOUTS = ("lock_timeout", "statement_timeout")


@dataclass(frozen=True)
class HeldLock:
    mode: LockMode
    line: int  # where the statement that took it starts


@dataclass
class MigrationState:
    created: set[TableName] = field(default_factory=set)
    created_indexes: set[str] = field(default_factory=set)
    in_transaction: bool = False
    explicit_transaction: bool = False  # opened by a BEGIN in this migration
    begin_index: int | None = None  # the statement that opened the explicit transaction
    held: dict[str, HeldLock] = field(default_factory=dict)  # target → lock, while in a transaction
    session_timeouts: set[str] = field(default_factory=set)
    local_timeouts: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, assume_in_transaction: bool) -> MigrationState:
        return cls(in_transaction=assume_in_transaction)

    def timeout_set(self, name: str) -> bool:
        return name in self.session_timeouts or name in self.local_timeouts

    def advance(self, node: Any, effects: list[Effect], index: int, line: int) -> None:
        if isinstance(node, ast.TransactionStmt):
            self._transaction(node, index)
        elif isinstance(node, ast.VariableSetStmt):
            self._variable(node)
        elif isinstance(node, ast.SelectStmt):
            self._set_config(node)
        elif isinstance(node, (ast.CreateStmt, ast.CreateTableAsStmt, ast.ViewStmt)):
            target: Any = node
            rel = _created_relation(target)
            self.created.add(TableName.from_range_var(rel))
        elif isinstance(node, ast.IndexStmt) and node.idxname:
            self.created_indexes.add(node.idxname)
        if self.in_transaction:
            for e in effects:
                if e.existing and e.mode.blocking and e.target not in self.held:
                    self.held[e.target] = HeldLock(e.mode, line)

    def _transaction(self, node: Any, index: int) -> None:
        if node.kind in _BEGIN:
            if not self.in_transaction:
                self.begin_index = index
            self.in_transaction = True
            self.explicit_transaction = True
        elif node.kind in _END:
            self.in_transaction = False
            self.explicit_transaction = False
            self.begin_index = None
            self.held.clear()
            self.local_timeouts.clear()

    def _variable(self, node: Any) -> None:
        if node.kind == VariableSetKind.VAR_RESET_ALL:
            self.session_timeouts.clear()
            self.local_timeouts.clear()
            return
        if node.name not in _TIMEOUTS:
            return
        enabled = node.kind == VariableSetKind.VAR_SET_VALUE and _nonzero(node.args)
        self._record(node.name, enabled, bool(node.is_local))

    def _set_config(self, node: Any) -> None:
        """``SELECT set_config('lock_timeout', '2s', is_local)`` counts as SET."""
        for target in node.targetList or ():
            call: Any = target.val
            if (
                isinstance(call, ast.FuncCall)
                and func_name(call) == "set_config"
                and len(call.args or ()) == 3
            ):
                args: Any = call.args
                name, value, local = (const_value(a) for a in args)
                if name in _TIMEOUTS:
                    self._record(str(name), _nonzero_value(value), bool(local))

    def _record(self, name: str, enabled: bool, local: bool) -> None:
        scope = self.local_timeouts if local else self.session_timeouts
        if enabled:
            scope.add(name)
        else:
            scope.discard(name)
            if not local:
                self.local_timeouts.discard(name)


def _created_relation(node: Any) -> Any:
    if isinstance(node, ast.CreateStmt):
        return node.relation
    if isinstance(node, ast.ViewStmt):
        return node.view
    return node.into.rel


def _nonzero(args: Any) -> bool:
    return bool(args) and _nonzero_value(const_value(args[0]))


def _nonzero_value(value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().lower()
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz ").strip()
    try:
        return float(digits or "0") != 0
    except ValueError:
        return True
