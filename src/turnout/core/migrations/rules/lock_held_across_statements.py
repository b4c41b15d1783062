"""lock-held-across-statements: a transaction keeps a blocking lock while it does more."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Effect, LockMode, Work
from turnout.core.migrations.rules.base import Context, Hit, Rule


def _extends(effect: Effect, held: set[str]) -> str | None:
    """What this effect adds to the time the held lock is kept, if anything."""
    if effect.work >= Work.ROWS:
        return f"{effect.work.label} on {effect.target}"
    if effect.target not in held and effect.mode >= LockMode.SHARE_UPDATE_EXCLUSIVE:
        return f"a wait for {effect.mode.sql} on {effect.target}"
    return None


def check(ctx: Context) -> Iterator[Hit]:
    state = ctx.state
    if not state.in_transaction or not state.held:
        return
    for effect in ctx.existing():
        what = _extends(effect, set(state.held))
        if what is None:
            continue
        target, lock = max(state.held.items(), key=lambda kv: kv[1].mode)
        yield Hit(
            f"{what} happens while this transaction still holds {lock.mode.sql} on {target} "
            f"(taken on line {lock.line}): {lock.mode.blocked()} on {target} wait until COMMIT"
        )
        return


RULE = Rule(
    id="lock-held-across-statements",
    category="locking",
    summary=(
        "A transaction holding a blocking lock goes on to scan, rewrite, change rows or lock "
        "another table"
    ),
    why=(
        "Locks are held until the transaction ends. Once a statement has taken ACCESS "
        "EXCLUSIVE (or any lock that blocks writes) on a table, everything that follows in "
        "the same transaction — a validation scan, an index build, a backfill, waiting for a "
        "lock on another table — adds to the time that table is unavailable. Several quick "
        "changes to the same table in one transaction are fine."
    ),
    fix=(
        "Commit right after the statement that takes the blocking lock. Put scans, "
        "validations, backfills and changes to other tables in their own transactions (in "
        "Alembic: separate revisions, or op.get_context().autocommit_block())."
    ),
    unsafe=(
        "BEGIN;\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\n"
        "COMMIT;"
    ),
    safe=(
        "BEGIN;\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\n"
        "COMMIT;\n"
        "BEGIN;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\n"
        "COMMIT;"
    ),
    check=check,
)
