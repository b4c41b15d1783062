"""change-column-type: ALTER COLUMN TYPE that rewrites the table."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(Cause.TYPE_CHANGE, Cause.TYPE_CHANGE_UNKNOWN)
        if reason:
            yield Hit(
                f"changing the type rewrites {effect.target} and its indexes under "
                f"ACCESS EXCLUSIVE: {reason.detail}",
                reason.location,
            )


RULE = Rule(
    id="change-column-type",
    category="locking",
    summary="ALTER COLUMN ... TYPE that is not binary-coercible",
    why=(
        "Changing a column's type rewrites the whole table and rebuilds its indexes under "
        "ACCESS EXCLUSIVE, unless the old type is binary-coercible to the new one. The old "
        "version of the application may also read or bind the column as the old type. "
        "No rewrite: varchar(n) → varchar(m ≥ n), varchar → text, text → varchar, "
        "numeric(p,s) → numeric(q ≥ p, s), numeric(p,s) → numeric, cidr → inet. "
        "turnout knows the old type from earlier migrations in the same run or from the "
        "[migrations] schema file."
    ),
    fix=(
        "Widen instead of convert when you can. Otherwise add a new column of the new type, "
        "write both from the application, backfill in batches, switch reads, then drop the "
        "old column in a contract migration."
    ),
    unsafe="ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;",
    safe=(
        "ALTER TABLE orders ADD COLUMN quantity_big bigint;\n"
        "-- deploy code that writes both; backfill quantity_big in batches;\n"
        "-- switch reads; later, in a contract migration:\n"
        "-- ALTER TABLE orders DROP COLUMN quantity;"
    ),
    check=check,
)
