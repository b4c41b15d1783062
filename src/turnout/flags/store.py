"""Where flag definitions live: SQLite by default, PostgreSQL by URL; every change versioned.

SQLAlchemy Core, three tables:

- ``turnout_flags``: one row per flag (its flagd JSON, its own version, who and when);
- ``turnout_flagset``: one row: the flag set's version, ``$evaluators`` and metadata;
- ``turnout_flag_audit``: one row per flag (or evaluators/metadata) changed by a write:
  the flag-set version it produced, when, who, the action, before, after, and the diff.

The flag set's version goes up by one per write that changes something; a flag's
version goes up when that flag changes. ``write`` takes the whole new document and the
version it was computed from, so a change made meanwhile is a ``ConflictError``, never
a lost update; on PostgreSQL the flag-set row is locked for the transaction.
URLs: ``sqlite:///relative/or/absolute.db``, ``postgresql://user@host/db`` (psycopg 3).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.errors import ConflictError, UserError
from turnout.flags.edit import diff
from turnout.store.engines import open_engine

__all__ = ["FlagStore", "Written", "normalize_url"]

meta = sa.MetaData()

flags_table = sa.Table(
    "turnout_flags",
    meta,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

flagset_table = sa.Table(
    "turnout_flagset",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("evaluators", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
)

audit_table = sa.Table(
    "turnout_flag_audit",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("key", sa.String(200), index=True),  # null: $evaluators or metadata
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("diff", sa.JSON, nullable=False),
)


def normalize_url(url: str, root: Path | None = None) -> str:
    """A SQLAlchemy URL: relative SQLite paths resolve against ``root``; psycopg for PostgreSQL."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute() and root is not None:
            path = root / path
        return f"sqlite:///{path}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if url.startswith("postgresql+psycopg://"):
        return url
    raise UserError(
        f"flags.database: {url!r} is not supported; use sqlite:///PATH or postgresql://..."
    )


@dataclass(frozen=True)
class Written:
    version: int  # the flag set's version after the write
    changed: tuple[str, ...]  # flag keys changed
    flag_versions: dict[str, int]  # their new versions (absent: deleted)
    document_changed: bool  # $evaluators or metadata changed


class FlagStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        meta.create_all(self.engine)
        with self.engine.begin() as c:
            if c.execute(sa.select(flagset_table.c.id)).first() is None:
                c.execute(
                    flagset_table.insert().values(id=1, version=0, evaluators={}, metadata={})
                )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- reading ------------------------------------------------------------------------------

    def load(self) -> tuple[int, dict[str, Any]]:
        """The flag set's version and its flagd document."""
        with self._tx() as c:
            state = c.execute(sa.select(flagset_table)).one()
            rows = c.execute(sa.select(flags_table.c.key, flags_table.c.definition)).all()
        document: dict[str, Any] = {"flags": {r.key: r.definition for r in sorted(rows)}}
        if state.evaluators:
            document["$evaluators"] = state.evaluators
        if state.metadata:
            document["metadata"] = state.metadata
        return state.version, document

    def flag(self, key: str) -> dict[str, Any] | None:
        """``{"key", "definition", "version", "updated_at", "updated_by"}`` or None."""
        with self._tx() as c:
            row = c.execute(sa.select(flags_table).where(flags_table.c.key == key)).first()
        return dict(row._mapping) if row is not None else None

    def flags(self) -> list[dict[str, Any]]:
        with self._tx() as c:
            rows = c.execute(sa.select(flags_table).order_by(flags_table.c.key)).all()
        return [dict(r._mapping) for r in rows]

    def history(self, key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Audit entries, newest first; of one flag when ``key`` is given."""
        query = sa.select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        if key is not None:
            query = query.where(audit_table.c.key == key)
        with self._tx() as c:
            rows = c.execute(query).all()
        return [dict(r._mapping) for r in rows]

    # --- writing ------------------------------------------------------------------------------

    def write(
        self,
        document: dict[str, Any],
        base_version: int,
        user: str,
        action: str,
        at: float | None = None,
        expect: dict[str, int | None] | None = None,
    ) -> Written:
        """Make ``document`` (already validated) the flag set.

        ``base_version`` is the version it was computed from; ``expect`` maps flag keys
        to the version the writer saw (None: the flag must not exist). Either mismatch is
        a ``ConflictError``. A write that changes nothing keeps the version.
        """
        at = time.time() if at is None else at
        new_flags: dict[str, Any] = document.get("flags", {})
        with self._tx() as c:
            lock = sa.select(flagset_table).where(flagset_table.c.id == 1)
            if self.engine.dialect.name == "postgresql":
                lock = lock.with_for_update()
            state = c.execute(lock).one()
            if state.version != base_version:
                raise ConflictError(
                    f"the flags changed meanwhile (version {state.version}, not {base_version}); "
                    "read them again and retry"
                )
            current = {r.key: r for r in c.execute(sa.select(flags_table)).all()}
            for key, seen in (expect or {}).items():
                now = current[key].version if key in current else None
                if now != seen:
                    raise ConflictError(_conflict(key, seen, current.get(key)))
            version = state.version + 1
            audit: list[dict[str, Any]] = []
            versions: dict[str, int] = {}
            for key in sorted(set(current) | set(new_flags)):
                before = current[key].definition if key in current else None
                after = new_flags.get(key)
                if before == after:
                    continue
                changes = diff(before or {}, after or {})
                audit.append(
                    {
                        "version": version,
                        "at": at,
                        "user": user,
                        "action": action,
                        "key": key,
                        "before": before,
                        "after": after,
                        "diff": changes,
                    }
                )
                if after is None:
                    c.execute(flags_table.delete().where(flags_table.c.key == key))
                    continue
                versions[key] = (current[key].version + 1) if key in current else 1
                row = {
                    "definition": after,
                    "version": versions[key],
                    "updated_at": at,
                    "updated_by": user,
                }
                if key in current:
                    c.execute(flags_table.update().where(flags_table.c.key == key).values(**row))
                else:
                    c.execute(flags_table.insert().values(key=key, **row))
            evaluators, metadata = document.get("$evaluators", {}), document.get("metadata", {})
            doc_before = {"$evaluators": state.evaluators, "metadata": state.metadata}
            doc_after = {"$evaluators": evaluators, "metadata": metadata}
            document_changed = doc_before != doc_after
            if document_changed:
                audit.append(
                    {
                        "version": version,
                        "at": at,
                        "user": user,
                        "action": action,
                        "key": None,
                        "before": doc_before,
                        "after": doc_after,
                        "diff": diff(doc_before, doc_after),
                    }
                )
            if not audit:
                return Written(state.version, (), {}, False)
            c.execute(audit_table.insert(), audit)
            c.execute(
                flagset_table.update()
                .where(flagset_table.c.id == 1)
                .values(version=version, evaluators=evaluators, metadata=metadata)
            )
        changed = tuple(a["key"] for a in audit if a["key"] is not None)
        return Written(version, changed, versions, document_changed)


def _conflict(key: str, seen: int | None, row: Any) -> str:
    if row is None:
        return f"flag {key!r} no longer exists (you had version {seen}); read it again and retry"
    if seen is None:
        return (
            f"flag {key!r} already exists (version {row.version}); pass its version to replace it"
        )
    return (
        f"flag {key!r} is at version {row.version}, not {seen} (changed by {row.updated_by} "
        f"at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row.updated_at))}); "
        "read it again and retry"
    )
