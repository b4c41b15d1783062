"""The values the linter takes in and gives back."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "Location", "MigrationSource", "Origin"]


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Origin:
    """Where a stretch of generated SQL came from (Alembic: the revision file's op call).

    ``line`` None marks SQL the migration runner adds itself (BEGIN, COMMIT, the
    ``alembic_version`` bookkeeping): it shapes transactions but gets no findings.
    """

    start: int  # character offset in MigrationSource.sql
    end: int  # exclusive
    line: int | None
    column: int = 1


@dataclass(frozen=True)
class MigrationSource:
    """One migration to lint: a SQL file, or one Alembic revision's offline SQL."""

    id: str  # a file's stem, or the Alembic revision id
    path: str  # the file findings point at
    sql: str
    origins: tuple[Origin, ...] | None = None  # None: findings point into ``sql`` itself
    # ``(line, text)`` of the comments holding turnout directives; None: the SQL's comments
    comments: tuple[tuple[int, str], ...] | None = None


@dataclass(frozen=True, order=True)
class Finding:
    location: Location
    rule: str
    message: str
    help: str
    statement: str = ""  # the statement's first line, for context
