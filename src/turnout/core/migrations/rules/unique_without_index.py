"""unique-without-index: a UNIQUE / PRIMARY KEY / EXCLUDE constraint that builds its index."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(Cause.CONSTRAINT_INDEX)
        if reason:
            yield Hit(
                f"the constraint builds its index on {effect.target} while ACCESS EXCLUSIVE "
                "blocks reads and writes",
                reason.location,
            )


RULE = Rule(
    id="unique-without-index",
    category="locking",
    summary="ADD UNIQUE / PRIMARY KEY / EXCLUDE without an existing index",
    why=(
        "Adding a UNIQUE or PRIMARY KEY constraint (or a column declared UNIQUE or PRIMARY "
        "KEY) builds a unique index while holding ACCESS EXCLUSIVE: nothing can read or "
        "write the table until the build finishes."
    ),
    fix=(
        "Build the unique index first with CREATE UNIQUE INDEX CONCURRENTLY, then attach it: "
        "ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY KEY USING INDEX, once the columns "
        "are NOT NULL), which only updates the catalog."
    ),
    unsafe="ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    safe=(
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n"
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;"
    ),
    check=check,
)
