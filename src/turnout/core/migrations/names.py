"""Table names as PostgreSQL resolves them: unqualified names live in ``public``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.core.migrations.ast import strings

__all__ = ["DEFAULT_SCHEMA", "TableName"]

# turnout does not follow search_path; an unqualified name means the default schema.
DEFAULT_SCHEMA = "public"


@dataclass(frozen=True, order=True)
class TableName:
    schema: str
    name: str

    @classmethod
    def of(cls, name: str, schema: str | None = None) -> TableName:
        return cls(schema or DEFAULT_SCHEMA, name)

    @classmethod
    def from_range_var(cls, rv: Any) -> TableName:
        return cls.of(rv.relname, rv.schemaname)

    @classmethod
    def from_names(cls, names: Any) -> TableName:
        parts = strings(names)
        return cls.of(parts[-1], parts[-2] if len(parts) > 1 else None)

    def __str__(self) -> str:
        return self.name if self.schema == DEFAULT_SCHEMA else f"{self.schema}.{self.name}"
