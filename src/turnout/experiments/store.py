"""Where experiments, exposures and events live: SQLite by default, PostgreSQL by URL.

SQLAlchemy Core, three tables (the flag store's patterns: one transaction per write,
``sqlite:///PATH`` or ``postgresql://...`` with psycopg 3):

- ``turnout_experiments``: one row per experiment: its definition (JSON), status
  (``draft``, ``running``, ``stopped``), the current **phase** and its weights and
  layout, times, and for release-level experiments the releases and route generation;
- ``turnout_exp_exposures``: one row per (experiment, phase, unit): the variant of the
  unit's first exposure and when. A later exposure of the same unit to another variant
  marks the unit ``conflict`` (it is left out of the analysis and counted);
- ``turnout_exp_events``: metric events by id (unit, name, value, time). An id seen
  before is a duplicate and changes nothing, so a batch may be re-sent safely.

A re-weighting starts a new phase: the analysis only counts the units exposed in the
current phase (the split changed, so earlier units would bias the comparison).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from turnout.errors import ConflictError, UserError
from turnout.experiments.analysis import UnitSums
from turnout.experiments.model import KEY_PATTERN, ExperimentSpec
from turnout.flags.store import normalize_url
from turnout.store.engines import open_engine

__all__ = ["Accepted", "ExperimentRecord", "ExperimentStore", "UnitSums", "normalize_url"]

meta = sa.MetaData()

experiments_table = sa.Table(
    "turnout_experiments",
    meta,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("phase", sa.Integer, nullable=False),
    sa.Column("weights", sa.JSON, nullable=False),
    sa.Column("layout", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("phase_started_at", sa.Float),
    sa.Column("stopped_at", sa.Float),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("release_state", sa.JSON),
    sa.Column("result", sa.JSON),  # the results when it stopped
)

exposures_table = sa.Table(
    "turnout_exp_exposures",
    meta,
    sa.Column("experiment", sa.String(100), primary_key=True),
    sa.Column("phase", sa.Integer, primary_key=True),
    sa.Column("unit", sa.String(200), primary_key=True),
    sa.Column("variant", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("conflict", sa.Boolean, nullable=False, default=False),
    sa.Index("turnout_exp_exposures_unit", "unit"),
)

events_table = sa.Table(
    "turnout_exp_events",
    meta,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("turnout_exp_events_name_unit", "name", "unit"),
)


@dataclass(frozen=True)
class ExperimentRecord:
    key: str
    spec: ExperimentSpec
    status: str
    phase: int
    weights: dict[str, float]
    layout: list[list[Any]]
    created_at: float
    started_at: float | None
    phase_started_at: float | None
    stopped_at: float | None
    updated_by: str
    release_state: dict[str, Any] | None
    result: dict[str, Any] | None

    def view(self, layout: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "kind": self.spec.kind,
            "status": self.status,
            "phase": self.phase,
            "weights": self.weights,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "phase_started_at": self.phase_started_at,
            "stopped_at": self.stopped_at,
            "updated_by": self.updated_by,
            "release_state": self.release_state,
            "spec": self.spec.model_dump(mode="json"),
        }
        if layout:
            out["layout"] = self.layout
        return out


@dataclass
class Accepted:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


class ExperimentStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        meta.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- experiments ------------------------------------------------------------------------

    def create(
        self, spec: ExperimentSpec, layout: list[list[Any]], user: str, at: float | None = None
    ) -> ExperimentRecord:
        at = time.time() if at is None else at
        row = {
            "key": spec.key,
            "spec": spec.model_dump(mode="json"),
            "status": "draft",
            "phase": 1,
            "weights": dict(spec.variants),
            "layout": layout,
            "created_at": at,
            "updated_by": user,
        }
        with self._tx() as c:
            if c.execute(_by_key(spec.key)).first() is not None:
                raise ConflictError(
                    f"experiment {spec.key!r} already exists; 'turnout experiments show "
                    f"{spec.key}' shows it"
                )
            c.execute(experiments_table.insert().values(**row))
        return self.get(spec.key)

    def find(self, key: str) -> ExperimentRecord | None:
        with self._tx() as c:
            row = c.execute(_by_key(key)).first()
        return _record(row) if row is not None else None

    def get(self, key: str) -> ExperimentRecord:
        found = self.find(key)
        if found is None:
            known = ", ".join(e.key for e in self.experiments()[:10]) or "none yet"
            raise ExperimentNotFound(f"no experiment {key!r}; experiments: {known}")
        return found

    def experiments(self, status: str | None = None) -> list[ExperimentRecord]:
        query = sa.select(experiments_table).order_by(experiments_table.c.created_at)
        if status is not None:
            query = query.where(experiments_table.c.status == status)
        with self._tx() as c:
            return [_record(r) for r in c.execute(query).all()]

    def update(self, key: str, **values: Any) -> ExperimentRecord:
        if "spec" in values and isinstance(values["spec"], ExperimentSpec):
            values["spec"] = values["spec"].model_dump(mode="json")
        with self._tx() as c:
            c.execute(
                experiments_table.update().where(experiments_table.c.key == key).values(**values)
            )
        return self.get(key)

    def delete(self, key: str) -> None:
        with self._tx() as c:
            c.execute(experiments_table.delete().where(experiments_table.c.key == key))
            c.execute(exposures_table.delete().where(exposures_table.c.experiment == key))

    # --- ingestion ----------------------------------------------------------------------------

    def ingest(self, events: Iterable[Mapping[str, Any]], now: float | None = None) -> Accepted:
        """Store a batch: exposures (counted once per unit and phase) and events (once per
        id). Events that are malformed or name an experiment that is not running are
        returned in ``rejected`` with the reason; the rest are stored."""
        now = time.time() if now is None else now
        out = Accepted()
        running = {e.key: e for e in self.experiments("running")}
        exposures: dict[tuple[str, int, str], tuple[str, float]] = {}
        metric: dict[str, dict[str, Any]] = {}
        for index, raw in enumerate(events):
            try:
                kind, item = _check_event(raw, now, running)
            except UserError as exc:
                out.rejected.append({"index": index, "error": exc.message})
                continue
            if kind == "event":
                if item["id"] in metric:
                    out.duplicates += 1
                else:
                    metric[item["id"]] = item
                continue
            key = (item["experiment"], running[item["experiment"]].phase, item["unit"])
            if key in exposures:
                seen_variant = exposures[key][0]
                if seen_variant == item["variant"]:
                    out.duplicates += 1
                    continue
                exposures[key] = (seen_variant + "\0" + item["variant"], exposures[key][1])
            else:
                exposures[key] = (item["variant"], item["at"])
        with self._tx() as c:
            if metric:
                new = self._new_event_ids(c, list(metric))
                out.duplicates += len(metric) - len(new)
                rows = [metric[i] for i in new]
                if rows:
                    c.execute(_insert_ignore(self.engine, events_table, ["id"]), rows)
                out.accepted += len(rows)
            accepted, dupes = self._expose(c, exposures)
            out.accepted += accepted
            out.duplicates += dupes
        return out

    def _new_event_ids(self, c: Connection, ids: list[str]) -> list[str]:
        have: set[str] = set()
        for chunk in _chunks(ids, 500):
            col = events_table.c.id
            have.update(r[0] for r in c.execute(sa.select(col).where(col.in_(chunk))))
        return [i for i in ids if i not in have]

    def _expose(
        self, c: Connection, exposures: Mapping[tuple[str, int, str], tuple[str, float]]
    ) -> tuple[int, int]:
        accepted = dupes = 0
        by_phase: dict[tuple[str, int], list[str]] = {}
        for exp, phase, unit in exposures:
            by_phase.setdefault((exp, phase), []).append(unit)
        t = exposures_table
        for (exp, phase), units in by_phase.items():
            have: dict[str, tuple[str, bool]] = {}
            for chunk in _chunks(units, 500):
                query = sa.select(t.c.unit, t.c.variant, t.c.conflict).where(
                    t.c.experiment == exp, t.c.phase == phase, t.c.unit.in_(chunk)
                )
                have.update({r.unit: (r.variant, r.conflict) for r in c.execute(query)})
            rows, conflicts = [], []
            for unit in units:
                variants, at = exposures[(exp, phase, unit)]
                first, *others = variants.split("\0")
                if unit in have:
                    stored, conflict = have[unit]
                    if conflict or {stored} == {first, *others}:
                        dupes += 1
                    else:
                        conflicts.append(unit)
                        accepted += 1
                    continue
                rows.append(
                    {
                        "experiment": exp,
                        "phase": phase,
                        "unit": unit,
                        "variant": first,
                        "at": at,
                        "conflict": bool(others),
                    }
                )
                accepted += 1
            if rows:
                c.execute(_insert_ignore(self.engine, t, ["experiment", "phase", "unit"]), rows)
            for chunk in _chunks(conflicts, 500):
                c.execute(
                    t.update()
                    .where(t.c.experiment == exp, t.c.phase == phase, t.c.unit.in_(chunk))
                    .values(conflict=True)
                )
        return accepted, dupes

    # --- reading for the analysis -----------------------------------------------------------

    def exposure_counts(self, key: str, phase: int) -> tuple[dict[str, int], int]:
        """Units per variant (conflicts left out) and the number of conflicting units."""
        t = exposures_table
        query = (
            sa.select(t.c.variant, t.c.conflict, sa.func.count())
            .where(t.c.experiment == key, t.c.phase == phase)
            .group_by(t.c.variant, t.c.conflict)
        )
        counts: dict[str, int] = {}
        conflicts = 0
        with self._tx() as c:
            for variant, conflict, n in c.execute(query):
                if conflict:
                    conflicts += int(n)
                else:
                    counts[variant] = counts.get(variant, 0) + int(n)
        return counts, conflicts

    def exposed_units(self, key: str, phase: int) -> list[str]:
        t = exposures_table
        query = sa.select(t.c.unit).where(
            t.c.experiment == key, t.c.phase == phase, t.c.conflict.is_(False)
        )
        with self._tx() as c:
            return [r[0] for r in c.execute(query)]

    def unit_sums(
        self, key: str, phase: int, name: str, until: float | None, lookback: float
    ) -> dict[str, UnitSums]:
        """Per exposed unit with at least one ``name`` event in its windows: the sums
        after its exposure (up to ``until``) and in the ``lookback`` seconds before."""
        x, e = exposures_table, events_table
        until = math.inf if until is None else until
        after = sa.and_(e.c.at >= x.c.at, e.c.at <= sa.literal(min(until, 1e300)))
        before = sa.and_(e.c.at < x.c.at, e.c.at >= x.c.at - lookback)

        def total(cond: Any, value: Any) -> Any:
            return sa.func.coalesce(sa.func.sum(sa.case((cond, value), else_=0)), 0)

        query = (
            sa.select(
                x.c.unit,
                x.c.variant,
                total(after, e.c.value),
                total(after, 1),
                total(before, e.c.value),
                total(before, 1),
            )
            .select_from(x.join(e, sa.and_(e.c.unit == x.c.unit, e.c.name == name)))
            .where(x.c.experiment == key, x.c.phase == phase, x.c.conflict.is_(False))
            .group_by(x.c.unit, x.c.variant)
        )
        with self._tx() as c:
            return {
                r[0]: UnitSums(r[1], float(r[2]), int(r[3]), float(r[4]), int(r[5]))
                for r in c.execute(query)
            }


class ExperimentNotFound(UserError):
    http_status = 404


def _by_key(key: str) -> Any:
    return sa.select(experiments_table).where(experiments_table.c.key == key)


def _record(row: Any) -> ExperimentRecord:
    m = row._mapping
    return ExperimentRecord(
        key=m["key"],
        spec=ExperimentSpec.model_validate(m["spec"]),
        status=m["status"],
        phase=m["phase"],
        weights=dict(m["weights"]),
        layout=list(m["layout"]),
        created_at=m["created_at"],
        started_at=m["started_at"],
        phase_started_at=m["phase_started_at"],
        stopped_at=m["stopped_at"],
        updated_by=m["updated_by"],
        release_state=m["release_state"],
        result=m["result"],
    )


def _check_event(
    raw: Any, now: float, running: Mapping[str, ExperimentRecord]
) -> tuple[str, dict[str, Any]]:
    """One event, checked: ``("exposure" | "event", normalised fields)``."""
    import re

    if not isinstance(raw, dict):
        raise UserError("an event is a JSON object")
    kind = raw.get("type")
    if kind not in ("exposure", "event"):
        raise UserError(f"type: {kind!r} is not 'exposure' or 'event'")
    unit = raw.get("unit")
    if not isinstance(unit, str | int) or isinstance(unit, bool) or not 0 < len(str(unit)) <= 200:
        raise UserError("unit: a string of 1-200 characters is required")
    at = raw.get("at", now)
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        raise UserError(f"at: {at!r} is not a Unix time in seconds")
    if at > now + 86_400:
        raise UserError(f"at: {at} is more than a day in the future")
    if kind == "exposure":
        key = raw.get("experiment")
        if not isinstance(key, str) or not re.match(KEY_PATTERN, key):
            raise UserError("experiment: the key of a running experiment is required")
        record = running.get(key)
        if record is None:
            raise UserError(f"experiment {key!r} is not running")
        variant = raw.get("variant")
        if variant not in record.spec.variants:
            names = ", ".join(record.spec.variants)
            raise UserError(f"variant: {variant!r} is not a variant of {key} ({names})")
        return kind, {"experiment": key, "unit": str(unit), "variant": variant, "at": float(at)}
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        raise UserError("id: a string of 1-64 characters is required (it makes re-sends safe)")
    name = raw.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise UserError("name: the event's name (1-200 characters) is required")
    value = raw.get("value", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(f"value: {value!r} is not a finite number")
    return kind, {"id": event_id, "unit": str(unit), "name": name, "value": float(value),
                  "at": float(at)}  # fmt: skip


def _insert_ignore(engine: sa.Engine, table: sa.Table, keys: list[str]) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=keys)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
