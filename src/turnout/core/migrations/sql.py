"""Split a migration script into statements with positions, using libpg_query.

libpg_query (through pglast) is PostgreSQL's own parser, so anything PostgreSQL
accepts parses here and anything it rejects is a syntax error with a position.
pglast reports offsets in characters of the Python string.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from pglast import parse_sql
from pglast.parser import ParseError, scan

__all__ = ["Comment", "LineIndex", "Script", "SqlSyntaxError", "Statement", "parse_script"]

_COMMENT_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})


class SqlSyntaxError(ValueError):
    """The script is not valid PostgreSQL; ``offset`` is where the parser gave up."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class LineIndex:
    """Character offset ↔ 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def line(self, offset: int) -> int:
        return self.position(offset)[0]


@dataclass(frozen=True)
class Comment:
    text: str
    start: int
    end: int  # exclusive


@dataclass(frozen=True)
class Statement:
    node: Any  # the pglast statement node (AlterTableStmt, IndexStmt, ...)
    text: str
    start: int  # offset of the first token
    end: int  # exclusive, before the terminating semicolon


@dataclass(frozen=True)
class Script:
    source: str
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...]
    lines: LineIndex


def parse_script(source: str) -> Script:
    """Parse ``source``; raise ``SqlSyntaxError`` when PostgreSQL would reject it."""
    try:
        raw = parse_sql(source)
    except ParseError as exc:
        message, offset = _parse_error_parts(exc)
        raise SqlSyntaxError(message, min(offset, len(source))) from exc
    statements = tuple(_statement(source, r) for r in raw)
    comments = tuple(
        Comment(source[t.start : t.end + 1], t.start, t.end + 1)
        for t in scan(source)
        if t.name in _COMMENT_TOKENS
    )
    return Script(source, statements, comments, LineIndex(source))


def _statement(source: str, raw: Any) -> Statement:
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(source)
    text = source[start:end].rstrip().rstrip(";").rstrip()
    return Statement(raw.stmt, text, start, start + len(text))


def _parse_error_parts(exc: ParseError) -> tuple[str, int]:
    args = exc.args
    message = str(args[0]) if args else "syntax error"
    offset = int(args[1]) if len(args) > 1 and isinstance(args[1], int) else 0
    return message, offset
