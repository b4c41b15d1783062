"""The previous release's queries, from whatever the app or the database recorded.

Formats:

- ``sql``: statements separated by ``;`` (a file the app writes, one query each);
- ``pgss-csv``: a CSV export of pg_stat_statements with a ``query`` column;
- ``pgss-json``: a JSON array (or JSON lines) of objects with a ``query`` key;
- ``log``: a PostgreSQL server log with ``log_statement = 'all'`` or
  ``log_min_duration_statement``: ``statement:`` and ``execute <name>:`` entries.

Only statements PREPARE accepts are kept (SELECT, INSERT, UPDATE, DELETE, MERGE,
VALUES, and WITH queries); pg_stat_statements' ``$1`` placeholders stay as parameters.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError

from turnout.errors import UserError

__all__ = ["FORMATS", "Query", "QuerySet", "guess_format", "parse_queries"]

FORMATS = ("sql", "pgss-csv", "pgss-json", "log")
_PREPARABLE = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
_LOG_ENTRY = re.compile(
    r"(?:LOG|STATEMENT):\s+(?:duration: [\d.]+ ms\s+)?(?:statement|execute [^:]*):\s?(.*)$"
)
_LOG_START = re.compile(r"^\S.*?(?:LOG|ERROR|WARNING|DETAIL|HINT|STATEMENT|FATAL|NOTICE):")


@dataclass(frozen=True)
class Query:
    text: str
    origin: str  # "queries.sql:3", "pgss.csv row 12"
    node: object  # the parsed statement


@dataclass(frozen=True)
class QuerySet:
    queries: tuple[Query, ...]
    skipped: tuple[str, ...]  # origins of entries that are not PREPARE-able or do not parse


def guess_format(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".csv"):
        return "pgss-csv"
    if lower.endswith((".json", ".jsonl")):
        return "pgss-json"
    if lower.endswith(".log"):
        return "log"
    return "sql"


def parse_queries(text: str, fmt: str, path: str) -> QuerySet:
    if fmt == "sql":
        raw = _sql_entries(text, path)
    elif fmt == "pgss-csv":
        raw = _csv_entries(text, path)
    elif fmt == "pgss-json":
        raw = _json_entries(text, path)
    elif fmt == "log":
        raw = _log_entries(text, path)
    else:
        raise UserError(f"--queries-format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    return _keep_preparable(raw)


def _sql_entries(text: str, path: str) -> list[tuple[str, str]]:
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        raise UserError(
            f"{path}: not valid SQL ({exc.args[0]}); one query per statement, ';'-separated"
        ) from exc
    entries = []
    for raw in statements:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(text)
        line = text[:start].count("\n") + 1
        entries.append((text[start:end].strip().rstrip(";"), f"{path}:{line}"))
    return entries


def _csv_entries(text: str, path: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "query" not in reader.fieldnames:
        raise UserError(
            f"{path}: CSV needs a header row with a 'query' column (pg_stat_statements)"
        )
    return [(row["query"] or "", f"{path} row {i}") for i, row in enumerate(reader, start=2)]


def _json_entries(text: str, path: str) -> list[tuple[str, str]]:
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            items = json.loads(stripped)
        else:
            items = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}:{exc.lineno}: not JSON ({exc.msg}); give an array or JSON lines"
        ) from exc
    entries = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            raise UserError(f"{path}: entry {i} has no string 'query' key")
        entries.append((item["query"], f"{path} entry {i}"))
    return entries


def _log_entries(text: str, path: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    current: list[str] | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LOG_ENTRY.search(line)
        if match:
            if current is not None:
                entries.append(("\n".join(current), f"{path}:{start}"))
            current, start = [match.group(1)], number
        elif current is not None and line[:1] in (" ", "\t") and not _LOG_START.match(line):
            current.append(line.strip())
        elif current is not None:
            entries.append(("\n".join(current), f"{path}:{start}"))
            current = None
    if current is not None:
        entries.append(("\n".join(current), f"{path}:{start}"))
    return entries


def _keep_preparable(entries: list[tuple[str, str]]) -> QuerySet:
    seen: set[str] = set()
    queries: list[Query] = []
    skipped: list[str] = []
    for text, origin in entries:
        normalized = " ".join(text.split()).rstrip(";")
        if not normalized or normalized in seen:
            continue
        seen.add(normalized)
        try:
            statements = parse_sql(normalized)
        except ParseError:
            skipped.append(origin)
            continue
        if len(statements) == 1 and isinstance(statements[0].stmt, _PREPARABLE):
            queries.append(Query(normalized, origin, statements[0].stmt))
        else:
            skipped.append(origin)
    return QuerySet(tuple(queries), tuple(skipped))
