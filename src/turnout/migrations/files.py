"""SQL migration files on disk → ``MigrationSource`` values, in the order given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from turnout.core.migrations.model import MigrationSource
from turnout.errors import UserError

__all__ = ["sql_sources"]


def sql_sources(paths: Sequence[Path]) -> list[MigrationSource]:
    """One source per file; a directory stands for its ``*.sql`` files in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.sql"))
            if not found:
                raise UserError(f"{path}: directory holds no .sql files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or directory")
    return [_read(f) for f in files]


def _read(path: Path) -> MigrationSource:
    try:
        sql = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from exc
    return MigrationSource(id=path.stem, path=str(path), sql=sql)
