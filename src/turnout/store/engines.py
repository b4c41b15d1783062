"""SQLAlchemy engines for turnout's own databases (flags, experiments): SQLite files by
default, with WAL so readers never wait for the writer; any other URL as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa


def open_engine(url: str) -> sa.Engine:
    """An engine for ``url``; a ``sqlite:///`` file's folder is created."""
    if not url.startswith("sqlite:///"):
        return sa.create_engine(url, pool_pre_ping=True)
    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(conn: Any, _record: Any) -> None:
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
    cur.close()
