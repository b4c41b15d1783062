"""Column types as the parser sees them, and which type changes avoid a rewrite.

PostgreSQL skips the table rewrite of ``ALTER COLUMN ... TYPE`` when the old type
is binary-coercible to the new one and no check is needed (ALTER TABLE, Notes:
"changing the type of an existing column will require the entire table and its
indexes to be rewritten", with the exceptions listed there). Verified against a
real server in tests/migrations/test_verify_postgres.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.core.migrations.ast import const_value, strings

__all__ = [
    "INT_TYPES",
    "SERIAL_TYPES",
    "SMALL_INT_TYPES",
    "ColumnType",
    "column_type",
    "is_binary_coercible",
]

# Names the grammar leaves unqualified and maps to internal names in pg_catalog.
_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "serial4": "serial",
    "serial2": "smallserial",
    "serial8": "bigserial",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "double precision": "float8",
    "real": "float4",
    "boolean": "bool",
}

SERIAL_TYPES = frozenset({"serial", "bigserial", "smallserial"})
# 32-bit and 16-bit integers (and their serial forms): too small for a growing key.
SMALL_INT_TYPES = frozenset({"int4", "int2", "serial", "smallserial"})
INT_TYPES = SMALL_INT_TYPES | {"int8", "bigserial"}


@dataclass(frozen=True)
class ColumnType:
    name: str  # internal name: int4, varchar, numeric, text, ...
    mods: tuple[int, ...] = ()  # typmods: varchar(20) → (20,), numeric(10,2) → (10, 2)
    array: bool = False

    def __str__(self) -> str:
        mods = f"({','.join(map(str, self.mods))})" if self.mods else ""
        return f"{self.name}{mods}{'[]' if self.array else ''}"


def column_type(type_name: Any) -> ColumnType:
    """A ``TypeName`` node → ``ColumnType``."""
    names = strings(type_name.names)
    name = names[-1].lower() if names else ""
    name = _ALIASES.get(name, name)
    mods = tuple(v for v in (const_value(m) for m in type_name.typmods or ()) if isinstance(v, int))
    return ColumnType(name, mods, bool(type_name.arrayBounds))


def is_binary_coercible(old: ColumnType, new: ColumnType) -> bool:
    """True when changing ``old`` to ``new`` needs neither a rewrite nor a scan."""
    if old.array != new.array:
        return False
    if old == new:
        return True
    if old.name in ("varchar", "text") and new.name == "text":
        return True
    if old.name in ("varchar", "text") and new.name == "varchar":
        return _wider_or_unlimited(old, new) if old.name == "varchar" else not new.mods
    if old.name == "numeric" and new.name == "numeric":
        return _numeric_widens(old.mods, new.mods)
    if old.name == "varbit" and new.name == "varbit":
        return _wider_or_unlimited(old, new)
    return (old.name, new.name) == ("cidr", "inet")


def _wider_or_unlimited(old: ColumnType, new: ColumnType) -> bool:
    if not new.mods:
        return True
    return bool(old.mods) and new.mods[0] >= old.mods[0]


def _numeric_widens(old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    if not new:
        return True
    if not old:
        return False
    old_scale = old[1] if len(old) > 1 else 0
    new_scale = new[1] if len(new) > 1 else 0
    return new_scale == old_scale and new[0] >= old[0]
