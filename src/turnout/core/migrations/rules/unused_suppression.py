"""unused-suppression: a suppression that silences nothing (reported by the linter itself)."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="unused-suppression",
    category="meta",
    summary="A 'turnout: allow' comment that matches no finding",
    why=(
        "A suppression left behind after the SQL changed silences the next real problem on "
        "that statement, and its reason no longer describes anything."
    ),
    fix="Delete the comment, or move it to the statement it was meant for.",
    unsafe=(
        "-- turnout: allow rename-column because the old name is unused\n"
        "ALTER TABLE accounts ADD COLUMN note text;"
    ),
    safe="ALTER TABLE accounts ADD COLUMN note text;",
    check=check,
)
