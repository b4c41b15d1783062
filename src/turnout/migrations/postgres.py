"""Connecting to PostgreSQL with errors a person can act on."""

from __future__ import annotations

import glob
import shutil
from typing import Any

from turnout.errors import SystemFault, UserError

__all__ = ["connect", "find_server_program", "one_line"]


def connect(dsn: str, *, autocommit: bool = True) -> Any:
    """A psycopg connection; a bad DSN is the user's fault, an unreachable server is not."""
    import psycopg

    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.ProgrammingError as exc:
        raise UserError(f"invalid database DSN {dsn!r}: {one_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        raise SystemFault(
            f"cannot connect to PostgreSQL ({_redact(dsn)}): {one_line(exc)}"
        ) from exc


def find_server_program(name: str) -> str:
    """``pg_dump`` and friends: on PATH, else in Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major, reverse=True)
    if candidates:
        return candidates[0]
    raise SystemFault(
        f"{name} not found on PATH or in /usr/lib/postgresql/*/bin; install postgresql-client"
    )


def _major(path: str) -> float:
    part = path.split("/")[4]
    try:
        return float(part)
    except ValueError:
        return 0.0


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _redact(dsn: str) -> str:
    return " ".join("password=***" if p.startswith("password=") else p for p in dsn.split())
