"""The experiment service inside the controller: definitions, lifecycle, events, results.

Mounted on the controller's API (``ExperimentService.mount(routes)``):

- ``GET /v1/experiments?status=running&layouts=1``: every experiment (``layouts``: with
  the assignment layouts, for SDKs);
- ``POST /v1/experiments`` ``{"spec", "start", "user"}``: define one (and start it);
- ``GET /v1/experiments/{key}``: definition, status, phase, weights, layout, exposures;
- ``DELETE /v1/experiments/{key}``: remove one that is not running (with its exposures);
- ``POST /v1/experiments/{key}/start`` and ``/stop``: start (release-level: install the
  split) and stop (freeze the results; release-level: route back to the live release);
- ``POST /v1/experiments/{key}/weights`` ``{"weights", "dry_run"}``: preview or apply a
  new split (who moves, how many exposed units);
- ``GET /v1/experiments/{key}/results``: the analysis (``turnout.experiments.analysis``);
- ``POST /v1/experiments/events`` ``{"events": [...]}``: ingest exposures and events.

Writes need the controller's token, except the event endpoint: SDKs and browsers post
there without the admin token; set ``[experiments] ingest_token`` to require one.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from turnout.errors import ConflictError, TurnoutError, UserError
from turnout.experiments.analysis import analyze, collect
from turnout.experiments.assign import Layout, contiguous_layout, initial_layout, moves, reweight
from turnout.experiments.assign import assign as assign_unit
from turnout.experiments.model import ExperimentSpec, validate_spec
from turnout.experiments.store import ExperimentRecord, ExperimentStore, normalize_url
from turnout.experiments.traffic import ReleaseControl
from turnout.httpapi import Request, Response, Routes

__all__ = ["ExperimentService"]

log = logging.getLogger("turnout.experiments")
MAX_BATCH = 10_000  # events per request
PREVIEW_UNITS = 200_000  # exposed units hashed for an exact re-assignment count


class Unauthorized(TurnoutError):
    exit_code = 2
    http_status = 401


class ExperimentService:
    def __init__(
        self,
        store: ExperimentStore,
        releases: ReleaseControl | None = None,
        flag_variants: Callable[[str], list[str] | None] | None = None,
        ingest_token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.releases = releases
        self.flag_variants = flag_variants
        self.ingest_token = ingest_token.encode() if ingest_token else None
        self.clock = clock

    @classmethod
    def open(
        cls,
        database: str | None,
        state_dir: Path,
        root: Path,
        releases: ReleaseControl | None = None,
        flag_variants: Callable[[str], list[str] | None] | None = None,
        ingest_token: str | None = None,
    ) -> ExperimentService:
        url = normalize_url(database or f"sqlite:///{state_dir / 'experiments.db'}", root)
        return cls(ExperimentStore(url), releases, flag_variants, ingest_token)

    async def close(self) -> None:
        self.store.close()

    def mount(self, routes: Routes) -> None:
        add = routes.add
        add("POST", "/v1/experiments/events", self.ingest, public=True)
        add("GET", "/v1/experiments", self.list_experiments)
        add("POST", "/v1/experiments", self.define)
        add("GET", "/v1/experiments/{key}", self.get)
        add("DELETE", "/v1/experiments/{key}", self.delete)
        add("POST", "/v1/experiments/{key}/start", self.start)
        add("POST", "/v1/experiments/{key}/stop", self.stop)
        add("POST", "/v1/experiments/{key}/weights", self.weights)
        add("GET", "/v1/experiments/{key}/results", self.results)

    # --- composing with deploys -------------------------------------------------------------

    def running_release_experiment(self) -> ExperimentRecord | None:
        for rec in self.store.experiments("running"):
            if rec.spec.kind == "release":
                return rec
        return None

    def check_deploy_allowed(self, what: str = "deploy") -> None:
        """Raise ``ConflictError`` when a release-level experiment holds the router."""
        rec = self.running_release_experiment()
        if rec is not None:
            raise ConflictError(
                f"experiment {rec.key} splits traffic between {', '.join(rec.spec.variants)}; "
                f"a {what} would end that split: stop it first with 'turnout experiments "
                f"stop {rec.key}'"
            )

    async def tick(self) -> None:
        rec = self.running_release_experiment()
        if rec is not None and self.releases is not None:
            await self.releases.tick(rec.spec, rec.weights)

    # --- definitions ------------------------------------------------------------------------

    async def define(self, request: Request) -> Response:
        body = request.json()
        spec = validate_spec(body.get("spec"), "spec")
        if self.store.find(spec.key) is not None:
            raise ConflictError(f"experiment {spec.key!r} already exists")
        spec = await self._resolve(spec)
        record = self.store.create(
            spec, initial_layout(spec.variants).to_json(), _user(body), self.clock()
        )
        if body.get("start"):
            record = await self._start(record, _user(body))
        return Response(201, record.view(layout=True))

    async def install_config(self, definitions: dict[str, Any]) -> None:
        """``[experiments.<key>]`` tables: created when missing (the store then owns them)."""
        for key, table in definitions.items():
            spec = validate_spec({"key": key, **table}, f"turnout.toml: experiments.{key}")
            existing = self.store.find(key)
            if existing is None:
                spec = await self._resolve(spec)
                self.store.create(spec, initial_layout(spec.variants).to_json(), "config")
                log.info("experiment %s defined from turnout.toml", key)

    async def _resolve(self, spec: ExperimentSpec) -> ExperimentSpec:
        if spec.kind == "flag" and self.flag_variants is not None and spec.flag:
            variants = self.flag_variants(spec.flag)
            if variants is None:
                raise UserError(
                    f"spec.flag: no flag {spec.flag!r}; 'turnout flags list' shows them"
                )
            wrong = [v for v in spec.variants if v not in variants]
            if wrong:
                raise UserError(
                    f"spec.variants: {wrong[0]!r} is not a variant of flag {spec.flag} "
                    f"({', '.join(variants)})"
                )
        if spec.kind != "release":
            return spec
        if self.releases is None:
            raise UserError("release-level experiments need the controller's router")
        resolved: dict[str, float] = {}
        for ref, weight in spec.variants.items():
            name = await self.releases.resolve(ref)
            if name in resolved:
                raise UserError(f"spec.variants: {ref!r} is release {name} twice")
            resolved[name] = weight
        return spec.model_copy(update={"variants": resolved})

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        return Response(200, (await self._start(record, _user(request.json()))).view())

    async def _start(self, record: ExperimentRecord, user: str) -> ExperimentRecord:
        if record.status == "running":
            raise ConflictError(f"experiment {record.key} is already running")
        if record.status == "stopped":
            raise ConflictError(
                f"experiment {record.key} was stopped; its results are final. Define a new "
                "experiment (another key) to test again"
            )
        state = None
        if record.spec.kind == "release":
            assert self.releases is not None
            other = self.running_release_experiment()
            if other is not None:
                raise ConflictError(
                    f"experiment {other.key} already splits the router; stop it first"
                )
            state = await self.releases.start(record.spec, record.weights)
        now = self.clock()
        log.info("experiment %s started by %s", record.key, user)
        return self.store.update(
            record.key, status="running", started_at=now, phase_started_at=now,
            release_state=state, updated_by=user,
        )  # fmt: skip

    async def stop(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        user = _user(request.json())
        if record.status != "running":
            raise ConflictError(f"experiment {record.key} is {record.status}, not running")
        state = dict(record.release_state or {})
        if record.spec.kind == "release":
            assert self.releases is not None
            state["stopped"] = await self.releases.stop(record.spec)
        now = self.clock()
        record = self.store.update(
            record.key, status="stopped", stopped_at=now, release_state=state, updated_by=user
        )
        result = await asyncio.to_thread(self.compute, record)
        record = self.store.update(record.key, result=result)
        log.info("experiment %s stopped by %s", record.key, user)
        return Response(200, {**record.view(), "results": result})

    async def delete(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        if record.status == "running":
            raise ConflictError(f"experiment {record.key} is running; stop it first")
        self.store.delete(record.key)
        return Response(200, {"key": record.key, "deleted": True})

    async def weights(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        body = request.json()
        new = body.get("weights")
        if not isinstance(new, dict) or set(new) != set(record.spec.variants):
            raise UserError(
                f"weights: give a weight for each variant ({', '.join(record.spec.variants)})"
            )
        if any(
            isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in new.values()
        ):
            raise UserError("weights: every weight is a number >= 0")
        if sum(new.values()) <= 0:
            raise UserError("weights: they add up to 0")
        if record.status == "stopped":
            raise ConflictError(f"experiment {record.key} was stopped")
        ordered = {v: float(new[v]) for v in record.spec.variants}
        preview = await asyncio.to_thread(self._preview, record, ordered)
        if body.get("dry_run"):
            return Response(200, {"key": record.key, "applied": False, **preview})
        if record.spec.kind == "release" and self.releases is not None:
            self.releases.check_no_deploy("change the split")
        layout = (
            contiguous_layout(ordered)
            if record.spec.kind == "release"
            else reweight(Layout.from_json(record.layout), ordered)
        )
        now = self.clock()
        running = record.status == "running"
        updated = self.store.update(
            record.key, weights=ordered, layout=layout.to_json(),
            phase=record.phase + (1 if running else 0),
            phase_started_at=now if running else record.phase_started_at, updated_by=_user(body),
        )  # fmt: skip
        if running and record.spec.kind == "release" and self.releases is not None:
            await self.releases.reweight(updated.spec, ordered)
        return Response(
            200, {"key": record.key, "applied": True, "phase": updated.phase, **preview}
        )

    def _preview(self, record: ExperimentRecord, new: dict[str, float]) -> dict[str, Any]:
        """What a new split re-assigns: shares of all units, and the exposed units of the
        current phase that would change variant (exact for SDK-assigned experiments)."""
        old = Layout.from_json(record.layout)
        # the router lays pools out in order; the SDK's layouts move the fewest units
        after = contiguous_layout(new) if record.spec.kind == "release" else reweight(old, new)
        changes = moves(old, after)
        share = sum(m.share for m in changes)
        counts, _ = self.store.exposure_counts(record.key, record.phase)
        exposed = sum(counts.values())
        out: dict[str, Any] = {
            "moves": [{"from": m.source, "to": m.target, "share": m.share} for m in changes],
            "moved_share": share,
            "exposed_units": exposed,
            "exposed_moving": None,
            "new_phase": record.status == "running",
        }
        if record.spec.kind != "release" and 0 < exposed <= PREVIEW_UNITS:
            seed = record.spec.assignment_seed
            units = self.store.exposed_units(record.key, record.phase)
            out["exposed_moving"] = sum(
                assign_unit(u, seed, old) != assign_unit(u, seed, after) for u in units
            )
        elif exposed:
            out["exposed_moving"] = round(share * exposed)
        return out

    # --- reading --------------------------------------------------------------------------------

    async def list_experiments(self, request: Request) -> Response:
        status = request.query.get("status")
        if status not in (None, "draft", "running", "stopped"):
            raise UserError(f"status: {status!r} is not draft, running or stopped")
        layouts = request.query.get("layouts") == "1"
        records = self.store.experiments(status)
        out = []
        for rec in records:
            view = rec.view(layout=layouts)
            view["exposures"] = self.store.exposure_counts(rec.key, rec.phase)[0]
            out.append(view)
        return Response(200, {"experiments": out})

    async def get(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        counts, conflicts = self.store.exposure_counts(record.key, record.phase)
        return Response(
            200, {**record.view(layout=True), "exposures": counts, "conflicts": conflicts}
        )

    async def results(self, request: Request) -> Response:
        record = self.store.get(request.params["key"])
        if record.status == "stopped" and record.result is not None:
            result = record.result
        else:
            result = await asyncio.to_thread(self.compute, record)
        return Response(200, result)

    def compute(self, record: ExperimentRecord) -> dict[str, Any]:
        spec = record.spec
        counts, conflicts = self.store.exposure_counts(record.key, record.phase)
        sums = {
            name: self.store.unit_sums(
                record.key, record.phase, name, record.stopped_at, spec.cuped_lookback
            )
            for name in spec.events
        }
        result = analyze(spec, counts, collect(spec, counts, sums), record.weights, conflicts)
        result.update(
            status=record.status,
            phase=record.phase,
            started_at=record.started_at,
            phase_started_at=record.phase_started_at,
            stopped_at=record.stopped_at,
            computed_at=self.clock(),
            kind=spec.kind,
        )
        return result

    # --- events ----------------------------------------------------------------------------

    async def ingest(self, request: Request) -> Response:
        if self.ingest_token is not None and not self._token_ok(request):
            raise Unauthorized("a valid bearer token ([experiments] ingest_token) is required")
        body = request.json()
        events = body.get("events")
        if not isinstance(events, list):
            raise UserError('request body: "events" (a list of exposures and events) is required')
        if len(events) > MAX_BATCH:
            raise UserError(f"events: {len(events)} in one batch; send at most {MAX_BATCH}")
        result = await asyncio.to_thread(self.store.ingest, events, self.clock())
        return Response(
            200,
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": result.rejected[:100],
            },
        )

    def _token_ok(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        assert self.ingest_token is not None
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.ingest_token
        )


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user)[:200] if user else "api"
