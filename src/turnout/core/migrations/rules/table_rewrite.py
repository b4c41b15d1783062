"""table-rewrite: commands whose whole purpose is to rewrite the table."""

from __future__ import annotations

from collections.abc import Iterator

from turnout.core.migrations.locks import Cause
from turnout.core.migrations.rules.base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    for effect in ctx.existing():
        reason = effect.find(Cause.TABLE_REWRITE)
        if reason:
            yield Hit(f"{reason.detail} ({effect.target}) under ACCESS EXCLUSIVE", reason.location)


RULE = Rule(
    id="table-rewrite",
    category="locking",
    summary="CLUSTER, VACUUM FULL, SET TABLESPACE, SET LOGGED/UNLOGGED, SET ACCESS METHOD",
    why=(
        "These commands copy the whole table (and rebuild its indexes) while holding ACCESS "
        "EXCLUSIVE: the table is unavailable for reads and writes for the whole copy."
    ),
    fix=(
        "Do not run them in a deploy. Reclaim space or reorder rows online with an extension "
        "such as pg_repack (or pg_squeeze), outside the migration, in a maintenance window."
    ),
    unsafe="VACUUM FULL events;",
    safe="VACUUM (ANALYZE) events;",
    check=check,
)
