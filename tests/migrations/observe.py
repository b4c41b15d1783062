"""What PostgreSQL really did to the fixture tables while a statement ran.

Inside a transaction: the relation locks our backend holds (pg_locks), each table's
file (pg_relation_filenode: a new one means a rewrite) and its sequential scans in
this transaction (pg_stat_xact_user_tables.seq_scan).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from turnout.core.migrations.locks import LockMode

MODES = {mode.pg_locks_name: mode for mode in LockMode}


@dataclass(frozen=True)
class Snapshot:
    filenodes: dict[int, int | None]  # table oid → relfilenode (None: dropped)
    locks: dict[int, frozenset[LockMode]]  # oid → modes our backend holds
    scans: dict[int, int]  # oid → seq_scan in this transaction


def table_oids(conn: psycopg.Connection, names: list[str]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
        (names,),
    ).fetchall()
    return {str(name): int(oid) for name, oid in rows}


def index_table(conn: psycopg.Connection, index: str) -> int | None:
    row = conn.execute(
        "SELECT i.indrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s",
        (index,),
    ).fetchone()
    return int(row[0]) if row else None


def snapshot(conn: psycopg.Connection, oids: list[int]) -> Snapshot:
    filenodes = {
        int(oid): (int(node) if node is not None else None)
        for oid, node in conn.execute(
            "SELECT o, pg_relation_filenode(o::regclass) FROM unnest(%s::oid[]) o", (oids,)
        ).fetchall()
    }
    locks: dict[int, set[LockMode]] = {}
    for oid, mode in conn.execute(
        "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() "
        "AND locktype = 'relation' AND granted AND relation = ANY(%s::oid[])",
        (oids,),
    ).fetchall():
        locks.setdefault(int(oid), set()).add(MODES[str(mode)])
    scans = {
        int(oid): int(n)
        for oid, n in conn.execute(
            "SELECT relid, seq_scan FROM pg_stat_xact_user_tables WHERE relid = ANY(%s::oid[])",
            (oids,),
        ).fetchall()
    }
    return Snapshot(filenodes, {k: frozenset(v) for k, v in locks.items()}, scans)
