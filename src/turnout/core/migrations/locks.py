"""PostgreSQL table-level lock modes and what a statement does to a table.

Lock modes and their conflicts are from "Explicit Locking", Table 13.2
(https://www.postgresql.org/docs/current/explicit-locking.html): ordinary reads
take ACCESS SHARE, writes take ROW EXCLUSIVE. A lock that conflicts with ACCESS
SHARE blocks reads; one that conflicts with ROW EXCLUSIVE blocks writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from turnout.core.migrations.names import TableName

__all__ = ["Cause", "Effect", "LockMode", "Reason", "Work"]


class LockMode(IntEnum):
    """Table lock modes, weakest first (the numbering is PostgreSQL's own)."""

    ACCESS_SHARE = 1
    ROW_SHARE = 2
    ROW_EXCLUSIVE = 3
    SHARE_UPDATE_EXCLUSIVE = 4
    SHARE = 5
    SHARE_ROW_EXCLUSIVE = 6
    EXCLUSIVE = 7
    ACCESS_EXCLUSIVE = 8

    @property
    def sql(self) -> str:
        """As written in SQL and the docs: ``ACCESS EXCLUSIVE``."""
        return self.name.replace("_", " ")

    @property
    def pg_locks_name(self) -> str:
        """As ``pg_locks.mode`` shows it: ``AccessExclusiveLock``."""
        return "".join(part.capitalize() for part in self.name.split("_")) + "Lock"

    @property
    def blocks_reads(self) -> bool:
        return self is LockMode.ACCESS_EXCLUSIVE

    @property
    def blocks_writes(self) -> bool:
        return self >= LockMode.SHARE

    @property
    def blocking(self) -> bool:
        """Blocks the application's ordinary reads or writes."""
        return self.blocks_writes

    def blocked(self) -> str:
        if self.blocks_reads:
            return "reads and writes"
        return "writes" if self.blocks_writes else "other schema changes"


class Work(IntEnum):
    """How much of the table a statement touches, cheapest first."""

    CATALOG = 0  # only the system catalogs change
    ROWS = 1  # DML: reads or writes rows
    SCAN = 2  # reads every row (validation, index build) without rewriting
    REWRITE = 3  # writes a new copy of the table (new relfilenode) and its indexes

    @property
    def label(self) -> str:
        return _WORK_LABELS[self]


_WORK_LABELS = {
    Work.CATALOG: "catalog-only change",
    Work.ROWS: "row changes",
    Work.SCAN: "full table scan",
    Work.REWRITE: "table rewrite",
}


class Cause(StrEnum):
    """Why a statement does more than a catalog change; rules match on these."""

    VOLATILE_DEFAULT = "volatile-default"
    STORED_GENERATED = "stored-generated"
    SERIAL_COLUMN = "serial-column"
    IDENTITY_COLUMN = "identity-column"
    DEFAULT_BEFORE_11 = "default-before-11"
    TYPE_CHANGE = "type-change"
    TYPE_CHANGE_UNKNOWN = "type-change-unknown"
    NOT_NULL_SCAN = "not-null-scan"
    CHECK_SCAN = "check-scan"
    FOREIGN_KEY_SCAN = "foreign-key-scan"
    VALIDATE = "validate"
    INDEX_BUILD = "index-build"
    CONSTRAINT_INDEX = "constraint-index"
    TABLE_REWRITE = "table-rewrite"
    TRUNCATE = "truncate"
    DOMAIN_CHECK = "domain-check"
    DML = "dml"


@dataclass(frozen=True)
class Reason:
    """One cause of work beyond the catalog, with where it is in the SQL."""

    cause: Cause
    detail: str  # for people: "clock_timestamp() is VOLATILE"
    location: int | None = None  # character offset in the script, when known


@dataclass(frozen=True)
class Effect:
    """One statement's lock and work on one table."""

    table: TableName | None  # None: a table only known through an index name
    mode: LockMode
    work: Work = Work.CATALOG
    reasons: tuple[Reason, ...] = ()
    new: bool = False  # the table was created earlier in this same migration
    index: str | None = None  # for DROP INDEX and the like: the index whose table is locked

    @property
    def existing(self) -> bool:
        return not self.new

    def find(self, *causes: Cause) -> Reason | None:
        """The first reason with one of ``causes``."""
        return next((r for r in self.reasons if r.cause in causes), None)

    @property
    def target(self) -> str:
        if self.table is not None:
            return str(self.table)
        return f"the table of index {self.index}"
