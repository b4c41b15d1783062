"""constraint-not-valid: a CHECK or FOREIGN KEY validated while the table is locked."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(Cause.CHECK_SCAN, Cause.FOREIGN_KEY_SCAN)
        if reason is None:
            continue
        kind = "FOREIGN KEY" if reason.cause is Cause.FOREIGN_KEY_SCAN else "CHECK"
        yield Hit(
            f"the new {kind} is validated against every row of {effect.target} while "
            f"{effect.mode.sql} blocks {effect.mode.blocked()}",
            reason.location,
        )


RULE = Rule(
    id="constraint-not-valid",
    category="locking",
    summary="ADD CONSTRAINT ... CHECK / FOREIGN KEY without NOT VALID",
    why=(
        "Adding a CHECK takes ACCESS EXCLUSIVE and reads every row; adding a FOREIGN KEY takes "
        "SHARE ROW EXCLUSIVE on both tables (blocking writes to each) and checks every row. "
        "The lock is held for the whole scan."
    ),
    fix=(
        "Add the constraint NOT VALID (a catalog change: new rows are checked from then on), "
        "then VALIDATE CONSTRAINT in a separate transaction; validation takes only SHARE "
        "UPDATE EXCLUSIVE, so reads and writes continue."
    ),
    unsafe=(
        "ALTER TABLE orders ADD CONSTRAINT orders_account_fk "
        "FOREIGN KEY (account_id) REFERENCES accounts (id);"
    ),
    safe=(
        "-- each statement in its own transaction\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_account_fk "
        "FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;"
    ),
    check=check,
)
