"""Collect the migrations a command works on: SQL files or an Alembic project."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from turnout.core.migrations.model import MigrationSource
from turnout.errors import UserError
from turnout.migrations.alembic import alembic_revisions
from turnout.migrations.files import sql_sources

__all__ = ["load_sources", "pending_after"]


def load_sources(files: Sequence[Path], alembic: Path | None) -> list[MigrationSource]:
    if files and alembic is not None:
        raise UserError("give SQL files or --alembic DIR, not both")
    if alembic is not None:
        return [rev.source for rev in alembic_revisions(alembic)]
    if not files:
        raise UserError("nothing to check: give SQL files (or directories) or --alembic DIR")
    return sql_sources(files)


def pending_after(sources: Sequence[MigrationSource], current: str | None) -> int:
    """Index of the first pending migration when ``current`` is the last applied one."""
    if current is None:
        return 0
    ids = [s.id for s in sources]
    if current not in ids:
        close = difflib.get_close_matches(current, ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(ids)}"
        raise UserError(f"--current {current!r} is not one of the migrations{hint}")
    return ids.index(current) + 1
