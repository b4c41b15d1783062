"""What an INSERT of the old release leaves out that the new schema requires.

PREPARE finds queries naming columns or tables that no longer exist; it does not
run the INSERT, so a new NOT NULL column without a default would only fail at run
time. This module works that out from the INSERT's column list and the columns
the new schema requires.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast

from turnout.core.migrations.names import TableName
from turnout.core.migrations.querylog import Query

__all__ = [
    "CompatFailure",
    "CompatReport",
    "InsertTarget",
    "insert_target",
    "missing_required",
    "render_compat",
]


@dataclass(frozen=True)
class InsertTarget:
    table: TableName
    columns: tuple[str, ...] | None  # None: no column list (positional VALUES)
    values: int | None  # number of values per row, for positional inserts


def insert_target(node: Any) -> InsertTarget | None:
    if not isinstance(node, ast.InsertStmt) or node.relation is None:
        return None
    table = TableName.from_range_var(node.relation)
    if node.cols:
        return InsertTarget(table, tuple(str(c.name) for c in node.cols), None)
    select: Any = node.selectStmt
    rows = getattr(select, "valuesLists", None)
    width = len(rows[0]) if rows else None
    return InsertTarget(table, None, width)


def missing_required(target: InsertTarget, required: Sequence[tuple[int, str]]) -> list[str]:
    """Required columns (``(position, name)``: NOT NULL, no default) the INSERT leaves out."""
    if target.columns is not None:
        given = set(target.columns)
        return [name for _, name in required if name not in given]
    if target.values is None:
        return []  # INSERT ... SELECT without a column list: PREPARE checks the arity
    return [name for position, name in required if position > target.values]


@dataclass(frozen=True)
class CompatFailure:
    query: Query
    migration: str  # the migration after which the query first fails
    error: str
    sqlstate: str | None


@dataclass(frozen=True)
class CompatReport:
    checked: int
    skipped: tuple[str, ...]
    failing_before: tuple[tuple[Query, str], ...]  # already failing on the current schema
    failures: tuple[CompatFailure, ...]
    migration_error: str | None = None  # a migration that itself failed on the scratch copy


def render_compat(report: CompatReport, fmt: str, source: str) -> str:
    """``text`` or ``json``; ``source`` names where the queries came from."""
    if fmt == "json":
        return json.dumps(
            {
                "queries": report.checked,
                "skipped": list(report.skipped),
                "failing_before": [
                    {"origin": q.origin, "query": q.text, "error": e}
                    for q, e in report.failing_before
                ],
                "failures": [
                    {
                        "origin": f.query.origin,
                        "query": f.query.text,
                        "migration": f.migration,
                        "error": f.error,
                        "sqlstate": f.sqlstate,
                    }
                    for f in report.failures
                ],
                "migration_error": report.migration_error,
            },
            indent=2,
        )
    lines = [
        f"checked {report.checked} queries from {source} "
        f"({len(report.skipped)} skipped: not SELECT/INSERT/UPDATE/DELETE/MERGE; "
        f"{len(report.failing_before)} already failing before the migrations)"
    ]
    for f in report.failures:
        lines.append(f"{f.query.origin}: fails after {f.migration}: {f.error}")
        lines.append(f"    {f.query.text}")
    if report.migration_error:
        lines.append(report.migration_error)
    n = len(report.failures)
    lines.append(
        f"{n} quer{'y' if n == 1 else 'ies'} of the previous release would fail"
        if n
        else "every query of the previous release still prepares"
    )
    return "\n".join(lines)
