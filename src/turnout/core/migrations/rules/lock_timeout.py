"""lock-timeout: a blocking lock requested with no lock_timeout set."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Effect
from turnout.core.migrations.rules.base import Context, Hit, Rule


def blocking_effect(ctx: Context) -> Effect | None:
    """The strongest blocking lock this statement requests on an existing table."""
    blocking = [e for e in ctx.existing() if e.mode.blocking]
    return max(blocking, key=lambda e: e.mode) if blocking else None


def check(ctx: Context) -> Iterator[Hit]:
    effect = blocking_effect(ctx)
    if effect is not None and not ctx.state.timeout_set("lock_timeout"):
        yield Hit(
            f"this statement waits for {effect.mode.sql} on {effect.target} with no lock_timeout: "
            f"while it waits behind a long transaction, {effect.mode.blocked()} on "
            f"{effect.target} queue behind it"
        )


RULE = Rule(
    id="lock-timeout",
    category="locking",
    summary="A lock that blocks reads or writes is requested without SET lock_timeout",
    why=(
        "A lock request waits for every conflicting lock already held, and every later "
        "conflicting request waits behind it. An ALTER TABLE stuck behind one long-running "
        "SELECT therefore stops all traffic on the table, even if the ALTER itself would take "
        "a millisecond. Reported once per migration, at the first such statement."
    ),
    fix=(
        "SET lock_timeout first (a few seconds at most) so the statement gives up instead of "
        "queueing everyone behind it, and retry the migration with backoff. If your migration "
        "runner already sets it, set lock_timeout_required = false in [migrations]."
    ),
    unsafe="ALTER TABLE accounts ADD COLUMN note text;",
    safe=(
        "SET lock_timeout = '2s';\n"
        "SET statement_timeout = '15s';\n"
        "ALTER TABLE accounts ADD COLUMN note text;"
    ),
    check=check,
    once_per_migration=True,
)
