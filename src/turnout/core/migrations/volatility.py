"""Which default expressions force a table rewrite when a column is added.

Since PostgreSQL 11, ``ADD COLUMN ... DEFAULT expr`` stores a non-volatile default
in the catalog and rewrites nothing; a volatile default (one whose value may
differ per row) is evaluated for every existing row, so the table is rewritten
under ACCESS EXCLUSIVE (ALTER TABLE, Notes). ``now()`` and ``CURRENT_TIMESTAMP``
are STABLE, ``random()``/``clock_timestamp()``/``gen_random_uuid()`` are VOLATILE
(pg_proc.provolatile). A function turnout does not know is assumed volatile,
because that is what ``CREATE FUNCTION`` makes it unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pglast import ast

from turnout.core.migrations.ast import func_name, walk

__all__ = ["KNOWN_NON_VOLATILE", "KNOWN_VOLATILE", "volatile_calls"]

KNOWN_VOLATILE = frozenset(
    {
        "random",
        "random_normal",
        "clock_timestamp",
        "timeofday",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "gen_random_bytes",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "txid_current",
        "pg_current_xact_id",
        "pg_sleep",
    }
)

# Built-ins whose pg_proc.provolatile is 'i' (immutable) or 's' (stable).
KNOWN_NON_VOLATILE = frozenset(
    {
        "now",
        "transaction_timestamp",
        "statement_timestamp",
        "current_setting",
        "lower",
        "upper",
        "btrim",
        "trim",
        "ltrim",
        "rtrim",
        "length",
        "substr",
        "substring",
        "replace",
        "concat",
        "concat_ws",
        "coalesce",
        "nullif",
        "greatest",
        "least",
        "abs",
        "round",
        "floor",
        "ceil",
        "date_trunc",
        "to_char",
        "to_timestamp",
        "to_date",
        "make_interval",
        "make_date",
        "jsonb_build_object",
        "json_build_object",
        "jsonb_build_array",
        "json_build_array",
        "array_fill",
        "md5",
        "uuid_nil",
        "format",
    }
)


def volatile_calls(expr: Any, declared: Mapping[str, bool] | None = None) -> list[str]:
    """Names of the calls in ``expr`` that are (or may be) volatile.

    ``declared`` maps function names seen in ``CREATE FUNCTION`` earlier in the
    migrations to whether they were declared VOLATILE.
    """
    found: list[str] = []
    for node in walk(expr):
        if isinstance(node, ast.FuncCall):
            name = func_name(node)
            if _is_volatile(name, declared or {}):
                found.append(name)
    return found


def _is_volatile(name: str, declared: Mapping[str, bool]) -> bool:
    if name in declared:
        return declared[name]
    return name not in KNOWN_NON_VOLATILE
