"""Render each Alembic revision to SQL offline (``upgrade prev:rev --sql``), one by one,
remembering which line of the revision file emitted each statement.

Alembic writes offline SQL through an output buffer; ours looks up the call stack
for the revision file's frame at every write, so a finding points at the
``op.create_index(...)`` line, not at the concatenated history.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.core.migrations.directives import python_comments
from turnout.core.migrations.model import MigrationSource, Origin
from turnout.errors import UserError

__all__ = ["AlembicRevision", "alembic_revisions"]

_DEFAULT_URL = "postgresql+psycopg://"


@dataclass(frozen=True)
class AlembicRevision:
    id: str
    down: tuple[str, ...]
    source: MigrationSource


class _Recorder(io.TextIOBase):
    """An output buffer that notes which line of ``path`` is executing at each write."""

    def __init__(self, path: str) -> None:
        self._path = os.path.realpath(path)
        self.chunks: list[tuple[str, int | None]] = []

    def write(self, text: str) -> int:
        self.chunks.append((text, self._caller_line()))
        return len(text)

    def _caller_line(self) -> int | None:
        frame: Any = sys._getframe(1)
        while frame is not None:
            if os.path.realpath(frame.f_code.co_filename) == self._path:
                return int(frame.f_lineno)
            frame = frame.f_back
        return None


def alembic_revisions(directory: Path) -> list[AlembicRevision]:
    """Every revision of the Alembic project in ``directory``, base first, with its SQL."""
    from alembic.script import ScriptDirectory

    config = _config(directory, None)
    try:
        script = ScriptDirectory.from_config(config)
        revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    except Exception as exc:  # alembic raises many kinds for a broken project
        raise UserError(f"{directory}: not a readable Alembic project: {_one_line(exc)}") from exc
    return [_render(directory, rev) for rev in revisions]


def _config(directory: Path, buffer: Any) -> Any:
    from alembic.config import Config

    ini = directory / "alembic.ini"
    if ini.is_file():
        config = Config(str(ini), output_buffer=buffer)
    elif (directory / "env.py").is_file():
        config = Config(output_buffer=buffer)
        config.set_main_option("script_location", str(directory))
    else:
        raise UserError(
            f"{directory}: no alembic.ini or env.py here; pass the directory holding alembic.ini "
            "or the migration environment (script_location)"
        )
    if not config.get_main_option("sqlalchemy.url"):
        config.set_main_option("sqlalchemy.url", _DEFAULT_URL)
    return config


def _render(directory: Path, rev: Any) -> AlembicRevision:
    from alembic import command

    path = str(rev.path)
    recorder = _Recorder(path)
    down = _down(rev)
    target = f"{down[0]}:{rev.revision}" if down else str(rev.revision)
    try:
        with _quiet():
            command.upgrade(_config(directory, recorder), target, sql=True)
    except UserError:
        raise
    except Exception as exc:  # user code in env.py and revisions runs here
        raise UserError(
            f"{path}: alembic could not render revision {rev.revision} offline (upgrade "
            f"{target} --sql): {_one_line(exc)}"
        ) from exc
    sql, origins = _assemble(recorder.chunks, Path(path).read_text(encoding="utf-8"))
    source = MigrationSource(
        id=str(rev.revision),
        path=_display(path),
        sql=sql,
        origins=origins,
        comments=tuple(python_comments(Path(path).read_text(encoding="utf-8"))),
    )
    return AlembicRevision(str(rev.revision), down, source)


def _down(rev: Any) -> tuple[str, ...]:
    down = rev.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def _assemble(
    chunks: list[tuple[str, int | None]], py_source: str
) -> tuple[str, tuple[Origin, ...]]:
    lines = py_source.splitlines()
    parts: list[str] = []
    origins: list[Origin] = []
    offset = 0
    for text, line in chunks:
        column = 1
        if line is not None and 0 < line <= len(lines):
            column = len(lines[line - 1]) - len(lines[line - 1].lstrip()) + 1
        origins.append(Origin(offset, offset + len(text), line, column))
        parts.append(text)
        offset += len(text)
    return "".join(parts), tuple(origins)


def _display(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Alembic prints progress to stdout/stderr in offline mode; keep our output clean."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
