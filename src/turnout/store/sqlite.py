"""The store: releases, deploys, instances, the journal and timers, in SQLite.

SQLAlchemy Core over one SQLite file in the state directory, in WAL mode with
``synchronous=FULL`` so a journal entry written before a step survives a crash
of the controller (or of the machine) right after. Every write is its own
transaction; the engine journals a step before it acts and after it finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.core.records import (
    ACTIVE_STATUSES,
    LIVE_INSTANCE_STATES,
    DeployRecord,
    InstanceRecord,
    JournalEntry,
    ReleaseRecord,
)
from turnout.errors import ConflictError, UserError

SCHEMA_VERSION = 1
meta = sa.MetaData()

releases = sa.Table(
    "releases",
    meta,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("seq", sa.Integer, unique=True, nullable=False),
    sa.Column("digest", sa.String, unique=True, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("path", sa.String, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("env", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

deploys = sa.Table(
    "deploys",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release", sa.String, nullable=False),
    sa.Column("previous", sa.String),
    sa.Column("strategy", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("phase", sa.String, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("rollback_plan", sa.Text),
    sa.Column("reason", sa.String),
    sa.Column("message", sa.Text),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("user", sa.String, nullable=False),
    sa.Column("promote", sa.Boolean, nullable=False, default=False),
    sa.Column("abort", sa.Boolean, nullable=False, default=False),
)

instances = sa.Table(
    "instances",
    meta,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("release", sa.String, nullable=False),
    sa.Column("deploy_id", sa.Integer),
    sa.Column("group", sa.String, nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("start_ticks", sa.BigInteger),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("stopped_at", sa.Float),
    sa.Column("log_path", sa.String, nullable=False),
)

journal = sa.Table(
    "journal",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deploy_id", sa.Integer, nullable=False, index=True),
    sa.Column("phase", sa.String, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("event", sa.String, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

timers = sa.Table(
    "timers",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String, nullable=False),  # e.g. "retire"
    sa.Column("release", sa.String, nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("deploy_id", sa.Integer),
)

samples = sa.Table(
    "samples",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deploy_id", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),  # the router's /v1/stats "pools"
)

kv = sa.Table(
    "kv",
    meta,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.JSON),
)

R = TypeVar("R")


def _record(cls: type[R], row: sa.Row[Any]) -> R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row._mapping.items() if k in names})


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine = sa.create_engine(
            f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30}
        )
        sa.event.listen(self.engine, "connect", _pragmas)
        meta.create_all(self.engine)
        with self._tx() as c:
            if c.execute(sa.select(kv.c.value).where(kv.c.key == "schema")).first() is None:
                c.execute(kv.insert().values(key="schema", value=SCHEMA_VERSION))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- key/value ------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        with self._tx() as c:
            row = c.execute(sa.select(kv.c.value).where(kv.c.key == key)).first()
        return default if row is None else row[0]

    def put(self, key: str, value: Any) -> None:
        with self._tx() as c:
            c.execute(kv.delete().where(kv.c.key == key))
            c.execute(kv.insert().values(key=key, value=value))

    def good_release(self) -> str | None:
        value = self.get("good_release")
        return str(value) if value else None

    def set_good_release(self, name: str | None) -> None:
        history = [r for r in self.get("good_history", []) if r != name]
        if name:
            history.append(name)
        self.put("good_history", history[-50:])
        self.put("good_release", name)

    def good_history(self) -> list[str]:
        """Releases that were marked good, oldest first (the current one last)."""
        return [str(r) for r in self.get("good_history", [])]

    # --- releases -------------------------------------------------------------------------

    def add_release(
        self, digest: str, source: str, kind: str, path: str, config: dict[str, Any],
        env: dict[str, str],
    ) -> ReleaseRecord:  # fmt: skip
        """The release for this digest: the existing one, or a new one with the next number."""
        with self._tx() as c:
            row = c.execute(sa.select(releases).where(releases.c.digest == digest)).first()
            if row is not None:
                return _record(ReleaseRecord, row)
            seq = (c.execute(sa.select(sa.func.max(releases.c.seq))).scalar() or 0) + 1
            rec = ReleaseRecord(
                name=f"r{seq}-{digest[:8]}", seq=seq, digest=digest, source=source, kind=kind,
                path=path, config=config, env=env, created_at=time.time(),
            )  # fmt: skip
            c.execute(releases.insert().values(**rec.__dict__))
            return rec

    def update_release_config(self, name: str, config: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(releases.update().where(releases.c.name == name).values(config=config))

    def releases(self) -> list[ReleaseRecord]:
        with self._tx() as c:
            rows = c.execute(sa.select(releases).order_by(releases.c.seq)).all()
        return [_record(ReleaseRecord, r) for r in rows]

    def release(self, ref: str) -> ReleaseRecord:
        """A release by name (``r3-3f2a9c1e``), number (``r3``, ``3``) or digest prefix."""
        wanted = ref.strip()
        candidates = [
            r
            for r in self.releases()
            if wanted in (r.name, f"r{r.seq}", str(r.seq))
            or (len(wanted) >= 4 and r.digest.startswith(wanted.lower()))
        ]
        if len(candidates) == 1:
            return candidates[0]
        known = ", ".join(r.name for r in self.releases()[-5:]) or "none yet"
        if not candidates:
            raise UserError(f"unknown release {ref!r}; known releases: {known}")
        raise UserError(f"release {ref!r} is ambiguous: {', '.join(r.name for r in candidates)}")

    def remove_release(self, name: str) -> None:
        with self._tx() as c:
            c.execute(releases.delete().where(releases.c.name == name))

    # --- deploys --------------------------------------------------------------------------

    def create_deploy(
        self, release: str, previous: str | None, strategy: str, plan: str, user: str
    ) -> DeployRecord:
        with self._tx() as c:
            active = c.execute(
                sa.select(deploys.c.id, deploys.c.release).where(
                    deploys.c.status.in_(ACTIVE_STATUSES)
                )
            ).first()
            if active is not None:
                raise ConflictError(
                    f"deploy #{active[0]} of {active[1]} is still in progress; wait for it, "
                    "or 'turnout abort' it"
                )
            result = c.execute(
                deploys.insert().values(
                    release=release,
                    previous=previous,
                    strategy=strategy,
                    status="running",
                    phase="deploy",
                    step=0,
                    plan=plan,
                    started_at=time.time(),
                    user=user,
                    promote=False,
                    abort=False,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            row = c.execute(sa.select(deploys).where(deploys.c.id == pk[0])).one()
        return _record(DeployRecord, row)

    def deploy(self, deploy_id: int) -> DeployRecord:
        with self._tx() as c:
            row = c.execute(sa.select(deploys).where(deploys.c.id == deploy_id)).first()
        if row is None:
            raise UserError(f"unknown deploy #{deploy_id}")
        return _record(DeployRecord, row)

    def update_deploy(self, deploy_id: int, **values: Any) -> DeployRecord:
        with self._tx() as c:
            c.execute(deploys.update().where(deploys.c.id == deploy_id).values(**values))
            row = c.execute(sa.select(deploys).where(deploys.c.id == deploy_id)).one()
        return _record(DeployRecord, row)

    def active_deploy(self) -> DeployRecord | None:
        with self._tx() as c:
            row = c.execute(
                sa.select(deploys)
                .where(deploys.c.status.in_(ACTIVE_STATUSES))
                .order_by(deploys.c.id.desc())
            ).first()
        return None if row is None else _record(DeployRecord, row)

    def deploys(self, limit: int = 50) -> list[DeployRecord]:
        with self._tx() as c:
            rows = c.execute(sa.select(deploys).order_by(deploys.c.id.desc()).limit(limit)).all()
        return [_record(DeployRecord, r) for r in rows]

    # --- journal --------------------------------------------------------------------------

    def journal(
        self, deploy_id: int, phase: str, step: int, event: str, message: str,
        detail: dict[str, Any] | None = None,
    ) -> JournalEntry:  # fmt: skip
        at = time.time()
        with self._tx() as c:
            result = c.execute(
                journal.insert().values(
                    deploy_id=deploy_id,
                    phase=phase,
                    step=step,
                    event=event,
                    message=message,
                    detail=detail or {},
                    at=at,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
        return JournalEntry(int(pk[0]), deploy_id, phase, step, event, message, detail or {}, at)

    def journal_entries(self, deploy_id: int, after: int = 0) -> list[JournalEntry]:
        with self._tx() as c:
            rows = c.execute(
                sa.select(journal)
                .where(journal.c.deploy_id == deploy_id, journal.c.id > after)
                .order_by(journal.c.id)
            ).all()
        return [_record(JournalEntry, r) for r in rows]

    # --- instances ------------------------------------------------------------------------

    def add_instance(self, rec: InstanceRecord) -> None:
        with self._tx() as c:
            c.execute(instances.insert().values(**rec.__dict__))

    def update_instance(self, instance_id: str, **values: Any) -> InstanceRecord:
        with self._tx() as c:
            c.execute(instances.update().where(instances.c.id == instance_id).values(**values))
            row = c.execute(sa.select(instances).where(instances.c.id == instance_id)).one()
        return _record(InstanceRecord, row)

    def instances(
        self, release: str | None = None, live: bool = True, group: str | None = None
    ) -> list[InstanceRecord]:
        query = sa.select(instances).order_by(instances.c.started_at, instances.c.id)
        if release is not None:
            query = query.where(instances.c.release == release)
        if live:
            query = query.where(instances.c.state.in_(LIVE_INSTANCE_STATES))
        if group is not None:
            query = query.where(instances.c.group == group)
        with self._tx() as c:
            rows = c.execute(query).all()
        return [_record(InstanceRecord, r) for r in rows]

    def instance(self, instance_id: str) -> InstanceRecord | None:
        with self._tx() as c:
            row = c.execute(sa.select(instances).where(instances.c.id == instance_id)).first()
        return None if row is None else _record(InstanceRecord, row)

    # --- timeline samples -----------------------------------------------------------------

    def add_sample(self, deploy_id: int, at: float, data: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(samples.insert().values(deploy_id=deploy_id, at=at, data=data))

    def samples(self, deploy_id: int) -> list[tuple[float, dict[str, Any]]]:
        with self._tx() as c:
            rows = c.execute(
                sa.select(samples.c.at, samples.c.data)
                .where(samples.c.deploy_id == deploy_id)
                .order_by(samples.c.at)
            ).all()
        return [(float(r[0]), dict(r[1])) for r in rows]

    def prune_samples(self, keep_deploys: int) -> None:
        with self._tx() as c:
            newest = c.execute(
                sa.select(deploys.c.id).order_by(deploys.c.id.desc()).limit(keep_deploys)
            ).all()
            if len(newest) == keep_deploys:
                c.execute(samples.delete().where(samples.c.deploy_id < newest[-1][0]))

    # --- timers ---------------------------------------------------------------------------

    def add_timer(self, action: str, release: str, due_at: float, deploy_id: int | None) -> None:
        with self._tx() as c:
            c.execute(timers.delete().where(timers.c.action == action, timers.c.release == release))
            c.execute(
                timers.insert().values(
                    action=action, release=release, due_at=due_at, deploy_id=deploy_id
                )
            )

    def cancel_timers(self, release: str) -> None:
        with self._tx() as c:
            c.execute(timers.delete().where(timers.c.release == release))

    def timers(self) -> list[dict[str, Any]]:
        with self._tx() as c:
            rows = c.execute(sa.select(timers).order_by(timers.c.due_at)).all()
        return [dict(r._mapping) for r in rows]

    def remove_timer(self, timer_id: int) -> None:
        with self._tx() as c:
            c.execute(timers.delete().where(timers.c.id == timer_id))


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def as_dict(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a record (for the API)."""
    data = dict(record.__dict__)
    for key in ("plan", "rollback_plan"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    return data


__all__ = ["Store", "as_dict", "replace"]
