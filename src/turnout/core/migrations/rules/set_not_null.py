"""set-not-null: SET NOT NULL that scans the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(Cause.NOT_NULL_SCAN)
        if reason:
            yield Hit(
                f"SET NOT NULL reads all of {effect.target} while holding ACCESS EXCLUSIVE: "
                f"{reason.detail}",
                reason.location,
            )


RULE = Rule(
    id="set-not-null",
    category="locking",
    summary="ALTER COLUMN ... SET NOT NULL without a validated CHECK (col IS NOT NULL)",
    why=(
        "PostgreSQL proves the column has no NULL by reading every row, holding ACCESS "
        "EXCLUSIVE the whole time, so reads and writes queue behind it. Since PostgreSQL 12 "
        "the scan is skipped when a valid CHECK constraint already proves the column is not "
        "null."
    ),
    fix=(
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a separate transaction (SHARE "
        "UPDATE EXCLUSIVE: reads and writes continue), then SET NOT NULL (no scan) and drop "
        "the CHECK."
    ),
    unsafe="ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    safe=(
        "-- each statement in its own transaction\n"
        "ALTER TABLE users ADD CONSTRAINT users_email_not_null "
        "CHECK (email IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\n"
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
        "ALTER TABLE users DROP CONSTRAINT users_email_not_null;"
    ),
    check=check,
)
