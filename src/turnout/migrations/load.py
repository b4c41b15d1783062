"""Collect the migrations a command works on: SQL files or an Alembic project."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from turnout.core.migrations.model import MigrationSource
from turnout.core.migrations.settings import LintSettings
from turnout.errors import UserError
from turnout.migrations.alembic import alembic_revisions
from turnout.migrations.files import sql_sources

__all__ = ["load_sources", "pending_after"]


def load_sources(
    files: Sequence[Path], alembic: Path | None, settings: LintSettings, base: Path
) -> list[MigrationSource]:
    """The migrations named on the command line, else the ones ``[migrations] path`` or
    ``alembic`` names (relative to ``base``, the config file's folder)."""
    if files and alembic is not None:
        raise UserError("give SQL files or --alembic DIR, not both")
    if alembic is not None:
        return [rev.source for rev in alembic_revisions(alembic)]
    if files:
        return sql_sources(files)
    if settings.alembic is not None:
        return [rev.source for rev in alembic_revisions(base / settings.alembic)]
    if settings.path is not None:
        return sql_sources([base / settings.path])
    raise UserError(
        "nothing to check: give SQL files (or directories), --alembic DIR, or set path or "
        "alembic in the [migrations] table of turnout.toml"
    )


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
