"""statement-timeout: a blocking statement with no statement_timeout set."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.rules.base import Context, Hit, Rule
from turnout.core.migrations.rules.lock_timeout import blocking_effect


def check(ctx: Context) -> Iterator[Hit]:
    effect = blocking_effect(ctx)
    if effect is not None and not ctx.state.timeout_set("statement_timeout"):
        yield Hit(
            f"this statement holds {effect.mode.sql} on {effect.target} with no "
            "statement_timeout: if it runs longer than expected, nothing stops it"
        )


RULE = Rule(
    id="statement-timeout",
    category="locking",
    summary="A statement that blocks reads or writes runs without SET statement_timeout",
    why=(
        "A statement expected to be a quick catalog change can turn out to scan or rewrite "
        "the table (an older server, a type that is not binary-coercible, a default that is "
        "volatile after all). Without statement_timeout it holds its lock until it finishes. "
        "Reported once per migration, at the first such statement."
    ),
    fix=(
        "SET statement_timeout before blocking statements so a surprise rewrite is cancelled "
        "and its lock released. Reset it (SET statement_timeout = 0) before long non-blocking "
        "work such as CREATE INDEX CONCURRENTLY. If the runner sets it, use "
        "statement_timeout_required = false."
    ),
    unsafe="SET lock_timeout = '2s';\nALTER TABLE accounts ADD COLUMN note text;",
    safe=(
        "SET lock_timeout = '2s';\n"
        "SET statement_timeout = '15s';\n"
        "ALTER TABLE accounts ADD COLUMN note text;"
    ),
    check=check,
    once_per_migration=True,
)
