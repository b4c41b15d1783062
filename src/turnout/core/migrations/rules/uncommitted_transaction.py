"""uncommitted-transaction: a BEGIN with no COMMIT before the migration ends."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.rules.base import Context, Hit, Rule
from turnout.core.migrations.state import MigrationState


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


def at_end(state: MigrationState) -> Iterator[tuple[int, Hit]]:
    if state.in_transaction and state.explicit_transaction and state.begin_index is not None:
        yield (
            state.begin_index,
            Hit(
                "this transaction is never committed: when the session ends PostgreSQL rolls "
                "it back, or it stays open holding its locks"
            ),
        )


RULE = Rule(
    id="uncommitted-transaction",
    category="transactions",
    summary="BEGIN without a matching COMMIT by the end of the migration",
    why=(
        "An open transaction at the end of a migration is either rolled back when the "
        "connection closes (the migration silently did nothing) or, on a pooled connection, "
        "stays open holding every lock it took."
    ),
    fix="End every BEGIN with COMMIT in the same migration.",
    unsafe="BEGIN;\nALTER TABLE accounts ADD COLUMN note text;",
    safe="BEGIN;\nALTER TABLE accounts ADD COLUMN note text;\nCOMMIT;",
    check=check,
    at_end=at_end,
)
