"""What the effect analysis needs to know besides the statement itself."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.names import TableName

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    facts: SchemaFacts
    created: Set[TableName]  # tables created earlier in this migration
    created_indexes: Set[str]  # indexes created earlier in this migration
    postgres_version: int

    def is_new(self, table: TableName | None) -> bool:
        return table is not None and table in self.created
