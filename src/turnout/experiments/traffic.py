"""Release-level experiments: the router splits users between releases, sticky by cookie,
and labels every request and response with the cohort (the pool that served it).

Runs inside the controller, on its engine (store, runtime, traffic provider):

- **start**: refused while a deploy runs or another release experiment holds the
  router. Starts the instances a release is missing (its configured count), cancels
  their warm-window timers, adds their pools to the live table at weight 0 so the
  router health-checks them, waits until every one is routable (``deploy.timeout``),
  then installs one table: the releases weighted by the experiment, ``sticky`` (the
  experiment's cookie, salted with its key, kept 30 days) and ``cohort_header``.
- **tick** (every second, after the engine's own): puts the table back if something
  replaced it, and restarts instances of the experiment's releases that died.
- **stop**: routes everyone back to the live release in one table; releases that are
  not live stay warm for ``deploy.keep_warm`` and are then retired by the engine.

A deploy or a rollback is refused while a release experiment runs (the controller
API asks ``blocking_deploy``): it would replace the split the experiment measures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from turnout.core.routes import HealthSpec
from turnout.core.tables import build_table
from turnout.errors import ConflictError, SystemFault, TurnoutError, UserError
from turnout.experiments.assign import slot_counts
from turnout.experiments.model import ExperimentSpec

__all__ = ["ReleaseControl"]

log = logging.getLogger("turnout.experiments")
COOKIE_MAX_AGE = 30 * 86_400.0  # a user keeps their cohort for 30 days


class ReleaseControl:
    """The engine-facing half of release-level experiments (``engine`` is the
    controller's ``Engine``)."""

    def __init__(self, engine: Any, root: Path) -> None:
        self.engine = engine
        self.root = root

    @property
    def store(self) -> Any:
        return self.engine.store

    def check_no_deploy(self, what: str) -> None:
        active = self.store.active_deploy()
        if active is not None:
            raise ConflictError(
                f"deploy #{active.id} of {active.release} is in progress; {what} when it has "
                "finished (or 'turnout abort' it)"
            )

    async def resolve(self, ref: str) -> str:
        """A release name from a name/number/digest prefix, or a source to ingest (a
        folder, archive, wheel or ``git:REF``), as ``turnout deploy`` takes."""
        try:
            return str(self.store.release(ref).name)
        except UserError as exc:
            if not (ref.startswith("git:") or (self.root / ref).exists()):
                raise UserError(f"releases: {exc.message}; or give a release folder") from None
        from turnout.controller.engine import check_command, release_config

        engine = self.engine
        cfg = engine.load_config()
        ingested = await asyncio.to_thread(
            engine.ingest, ref, engine.state_dir / "releases", engine.cwd
        )
        check_command(cfg.app.command, Path(ingested.path))
        rel = self.store.add_release(
            ingested.digest, ref, ingested.kind, str(ingested.path), release_config(cfg),
            dict(getattr(ingested, "env", {}) or {}),
        )  # fmt: skip
        return str(rel.name)

    def _health(self, names: list[str]) -> dict[str, HealthSpec]:
        out = {}
        for r in names:
            out[r] = HealthSpec.model_validate(self.store.release(r).config["health"])
        return out

    def table(self, spec: ExperimentSpec, weights: dict[str, float]) -> dict[str, Any]:
        names = list(spec.variants)
        routed = slot_counts(weights)
        table = build_table(self.engine.running(), routed, self._health(names), include=names)
        table["sticky"] = {"cookie": spec.sticky_cookie, "salt": spec.key,
                           "max_age": COOKIE_MAX_AGE}  # fmt: skip
        table["cohort_header"] = spec.cohort_header
        return table

    async def _ensure_instances(self, names: list[str]) -> list[str]:
        """Start the instances each release is missing; their ids."""
        engine = self.engine
        await engine.refresh_instances()
        started = []
        for name in names:
            rel = self.store.release(name)
            if not Path(rel.path).is_dir():
                raise UserError(f"{name} was pruned from {rel.path}; deploy it again first")
            want = int(rel.config["app"]["instances"])
            have = len(self.store.instances(name))
            for _ in range(want - have):
                try:
                    inst = await engine.start_instance(rel, "experiment", None)
                except Exception as exc:
                    raise SystemFault(f"starting {name} for the experiment failed: {exc}") from None
                started.append(inst.id)
            self.store.cancel_timers(name)
        return started

    async def _await_routable(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        traffic = self.engine.traffic
        while True:
            await self.engine.refresh_instances()
            view = await traffic.instances()
            waiting = [
                i.id
                for r in names
                for i in self.store.instances(r)
                if not view.get(i.address, {}).get("routable")
            ]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise SystemFault(
                    f"not healthy within {timeout:g}s: {', '.join(waiting)}; the experiment "
                    "did not start (see 'turnout logs')"
                )
            await asyncio.sleep(0.1)

    async def start(self, spec: ExperimentSpec, weights: dict[str, float]) -> dict[str, Any]:
        engine = self.engine
        self.check_no_deploy(f"start experiment {spec.key}")
        names = list(spec.variants)
        async with engine.busy:  # no deploy step, warm-window retirement or supervision meanwhile
            self.check_no_deploy(f"start experiment {spec.key}")
            started = await self._ensure_instances(names)
            try:
                live = await engine.traffic.table()
                staging = build_table(
                    engine.running(), dict(live.get("weights", {})),
                    self._health(names + list(live.get("weights", {}))), include=names,
                )  # fmt: skip
                await engine.traffic.apply(staging)
                await self._await_routable(names, engine.load_config().deploy.timeout)
                running = engine.running()
                await engine.traffic.undrain([a for r in names for a in running.get(r, [])])
                generation = await engine.traffic.apply(self.table(spec, weights))
            except TurnoutError:
                for iid in started:  # leave nothing behind that the failed start began
                    inst = next((i for i in self.store.instances() if i.id == iid), None)
                    if inst is not None:
                        await engine.stop_instance(inst)
                raise
        log.info("experiment %s: router split %s (generation %d)", spec.key, weights, generation)
        return {"releases": names, "generation": generation, "started": started}

    async def reweight(self, spec: ExperimentSpec, weights: dict[str, float]) -> int:
        async with self.engine.busy:
            return int(await self.engine.traffic.apply(self.table(spec, weights)))

    async def stop(self, spec: ExperimentSpec) -> dict[str, Any]:
        engine = self.engine
        async with engine.busy:
            good = self.store.good_release()
            running = engine.running()
            if good is None:
                raise ConflictError("no release is live to route back to; deploy one first")
            keep_warm = engine.load_config().deploy.keep_warm
            others = [r for r in spec.variants if r != good and r in running]
            table = build_table(running, {good: 100}, self._health([good, *others]), include=others)
            generation = await engine.traffic.apply(table)
            for r in others:  # they stay warm, then the engine retires them
                self.store.cancel_timers(r)
                self.store.add_timer("retire", r, time.time() + keep_warm, None)
        return {"generation": generation, "live": good, "warm": others}

    async def tick(self, spec: ExperimentSpec, weights: dict[str, float]) -> None:
        """Keep the experiment's releases running and its table live."""
        engine = self.engine
        if engine.busy.locked() or self.store.active_deploy() is not None:
            return
        async with engine.busy:
            started = await self._ensure_instances(list(spec.variants))
            if started:
                log.warning("experiment %s: restarted %s", spec.key, ", ".join(started))
            want = self.table(spec, weights)
            live = await engine.traffic.table()
            if not _same(live, want):
                await engine.traffic.apply(want)
                log.warning("experiment %s: the route table had changed; put it back", spec.key)


def _same(live: dict[str, Any], want: dict[str, Any]) -> bool:
    """Whether the live table routes as ``want`` does (pools, instances, weights, labels)."""

    def shape(t: dict[str, Any]) -> tuple[Any, ...]:
        pools = {p: sorted(v.get("instances", [])) for p, v in t.get("pools", {}).items()}
        weights = {p: w for p, w in t.get("weights", {}).items() if w}
        sticky = (t.get("sticky") or {}).get("cookie")
        return pools, weights, t.get("cohort_header"), sticky

    return shape(live) == shape(want)
