"""transaction-nesting: BEGIN inside an open transaction, or COMMIT of the runner's."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import TransactionStmtKind

from turnout.core.migrations.rules.base import Context, Hit, Rule

_BEGIN = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)
_END = (TransactionStmtKind.TRANS_STMT_COMMIT, TransactionStmtKind.TRANS_STMT_ROLLBACK)


def check(ctx: Context) -> Iterator[Hit]:
    node, state = ctx.node, ctx.state
    if not isinstance(node, ast.TransactionStmt) or not state.in_transaction:
        return
    if node.kind in _BEGIN:
        opened = "by an earlier BEGIN" if state.explicit_transaction else "by the migration runner"
        yield Hit(
            f"BEGIN inside a transaction already opened {opened}: PostgreSQL only warns, and "
            "the next COMMIT ends the outer transaction early"
        )
    elif node.kind in _END and not state.explicit_transaction:
        yield Hit(
            "this ends the transaction the migration runner opened; what follows runs outside "
            "it, and the runner's own COMMIT finds no transaction"
        )


RULE = Rule(
    id="transaction-nesting",
    category="transactions",
    summary=(
        "BEGIN inside an open transaction, or COMMIT/ROLLBACK of a transaction the runner opened"
    ),
    why=(
        "PostgreSQL has no nested transactions: a second BEGIN is ignored with a warning and "
        "the first COMMIT ends everything. In a runner that wraps each migration in a "
        "transaction, statements after an inner COMMIT silently lose their atomicity."
    ),
    fix=(
        "Let one party own the transaction. Either the runner wraps the migration (no "
        "BEGIN/COMMIT in the file), or the file manages transactions itself and the runner "
        "is told not to (assume_in_transaction = false)."
    ),
    unsafe=(
        "BEGIN;\n"
        "ALTER TABLE accounts ADD COLUMN note text;\n"
        "BEGIN;\n"
        "ALTER TABLE accounts ADD COLUMN tag text;\n"
        "COMMIT;"
    ),
    safe=(
        "BEGIN;\n"
        "ALTER TABLE accounts ADD COLUMN note text;\n"
        "ALTER TABLE accounts ADD COLUMN tag text;\n"
        "COMMIT;"
    ),
    check=check,
)
