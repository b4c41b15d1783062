"""add-column-rewrite: ADD COLUMN that makes PostgreSQL rewrite the table."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule

_CAUSES = (
    Cause.VOLATILE_DEFAULT,
    Cause.STORED_GENERATED,
    Cause.SERIAL_COLUMN,
    Cause.IDENTITY_COLUMN,
    Cause.DEFAULT_BEFORE_11,
)


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(*_CAUSES)
        if reason:
            yield Hit(
                f"adding this column rewrites {effect.target} under ACCESS EXCLUSIVE: "
                f"{reason.detail}",
                reason.location,
            )


RULE = Rule(
    id="add-column-rewrite",
    category="locking",
    summary="ADD COLUMN with a volatile default, a serial/identity or a stored generated column",
    why=(
        "Since PostgreSQL 11 a new column with a constant or STABLE default (now(), "
        "CURRENT_TIMESTAMP, 'x') is a catalog change. A VOLATILE default (random(), "
        "clock_timestamp(), gen_random_uuid()), a serial or identity column, a stored "
        "generated column, or any default before PostgreSQL 11 must be computed for every "
        "existing row: the table and all its indexes are rewritten while ACCESS EXCLUSIVE "
        "blocks every read and write."
    ),
    fix=(
        "Add the column with no default (or a constant one), set the volatile default "
        "afterwards so it applies to new rows only, and backfill existing rows in batches."
    ),
    unsafe="ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    safe=(
        "ALTER TABLE accounts ADD COLUMN token uuid;\n"
        "ALTER TABLE accounts ALTER COLUMN token SET DEFAULT gen_random_uuid();\n"
        "-- then, outside the migration's transaction:\n"
        "-- turnout migrate backfill --table accounts --set 'token = gen_random_uuid()' "
        "--where 'token IS NULL'"
    ),
    check=check,
)
