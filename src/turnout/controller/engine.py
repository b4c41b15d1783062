"""The deploy engine: executes a strategy's plan one step at a time, journaled.

Each step is written to the journal before it runs and after it finished, and
the deploy's step index moves only after the step is done. Every step converges
(``Start`` starts only the missing instances, ``Route`` installs the table the
step describes, ``Stop`` stops what still runs), so a controller killed at any
point re-runs the interrupted step on restart and carries on: the deploy
completes, or rolls back, as it would have.

A failed step turns the deploy into a rollback: a plan built from what is running
at that moment (``turnout.core.strategies.plan_rollback``) back to the last good
release. The engine never raises into its caller for a failure of the world;
failures become the deploy's state, with a reason code and a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from turnout.controller.analysis import AnalysisRun
from turnout.controller.metrics import MetricSource, PrometheusSource, RouterSource
from turnout.controller.migrations import MigrationGate, StoreReleases
from turnout.controller.traffic import Traffic
from turnout.core.analysis.model import Judgement, Verdict
from turnout.core.config import STRATEGIES, AnalysisConfig, AppConfig, Config, SmokeConfig
from turnout.core.health import parse_status_ranges, status_expected
from turnout.core.plan import (
    Analyze,
    AwaitHealthy,
    Drain,
    KeepWarm,
    MarkGood,
    Pause,
    Route,
    Smoke,
    Start,
    Step,
    Stop,
    StopAnalysis,
    Watch,
    describe,
    dump_plan,
    load_plan,
)
from turnout.core.records import DeployRecord, InstanceRecord, ReleaseRecord
from turnout.core.routes import HealthSpec
from turnout.core.strategies import PlanContext, plan_deploy, plan_rollback
from turnout.core.tables import build_table, proportional
from turnout.core.verdicts import message
from turnout.errors import ConflictError, SystemFault, TurnoutError, UserError
from turnout.runtime import InstanceSpec, ProcessRef, Runtime
from turnout.store import Store

log = logging.getLogger("turnout.controller")

POLL = 0.1  # seconds between checks while waiting for health, a pause, a watch
SAMPLE_EVERY = 0.5  # seconds between timeline samples of the router's counters
SAMPLE_TAIL = 2.0  # seconds sampled after a deploy ends


class StepFailed(Exception):
    def __init__(self, reason: str, text: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.detail = detail or {}


@dataclass
class Submitted:
    deploy: DeployRecord | None  # None: nothing to do
    release: ReleaseRecord
    message: str
    steps: list[str]


def release_config(cfg: Config) -> dict[str, Any]:
    """The parts of the config a release runs with, snapshotted into its record."""
    return {
        "app": cfg.app.model_dump(mode="json"),
        "health": cfg.health.model_dump(mode="json"),
        "smoke": cfg.deploy.smoke.model_dump(mode="json"),
        "preview_header": cfg.deploy.bluegreen.preview_header,
        "canary": cfg.deploy.canary.model_dump(mode="json"),
        "analysis": {name: a.model_dump(mode="json") for name, a in cfg.analysis.items()},
    }


class Engine:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        traffic: Traffic,
        state_dir: Path,
        load_config: Callable[[], Config],
        ingest: Callable[[str, Path, Path], Any],
        cwd: Path,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.traffic = traffic
        self.state_dir = state_dir
        self.load_config = load_config
        self.ingest = ingest
        self.cwd = cwd
        self.config = load_config()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.busy = asyncio.Lock()  # one state change at a time (deploy steps, timers, supervision)
        self.analyses: dict[str, AnalysisRun] = {}  # the current deploy's, for status
        self.background: asyncio.Task[None] | None = None
        self.background_failure: StepFailed | None = None
        self._gate: tuple[str, MigrationGate] | None = None  # ([migrations] as JSON, gate)

    # --- submitting work ------------------------------------------------------------------

    async def submit_deploy(
        self, source: str, strategy: str | None, force: bool, user: str | None = None
    ) -> Submitted:
        active = self.store.active_deploy()
        if active is not None:
            raise ConflictError(
                f"deploy #{active.id} of {active.release} is still in progress; wait for it, "
                "or 'turnout abort' it"
            )
        cfg = self.load_config()  # re-read: edits to turnout.toml apply to the next deploy
        self.config = cfg
        strategy = strategy or cfg.deploy.strategy
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
        ingested = await asyncio.to_thread(
            self.ingest, source, self.state_dir / "releases", self.cwd
        )
        check_command(cfg.app.command, Path(ingested.path))
        await self._deploy_gate(cfg, Path(ingested.path), source)
        rel = self.store.add_release(
            ingested.digest,
            source,
            ingested.kind,
            str(ingested.path),
            release_config(cfg),
            dict(getattr(ingested, "env", {}) or {}),
        )
        self.store.update_release_config(rel.name, release_config(cfg))
        rel = self.store.release(rel.name)
        good = self.store.good_release()
        if good == rel.name and not force:
            text = message("noop", release=rel.name)
            return Submitted(None, rel, text, [])
        await self.refresh_instances()
        current = good if good != rel.name else None
        current_instances = tuple(i.id for i in self.store.instances(current)) if current else ()
        ctx = PlanContext(rel.name, current, current_instances, cfg.app.instances, cfg.deploy)
        plan = self._retire_stale(good, rel.name) + plan_deploy(strategy, ctx)
        d = self.store.create_deploy(rel.name, good, strategy, dump_plan(plan), user or _user())
        self.store.journal(d.id, "deploy", -1, "info", f"deploy #{d.id}: {rel.name} by {strategy}")
        self.start(d.id)
        return Submitted(d, rel, f"deploying {rel.name}", [describe(s) for s in plan])

    async def submit_rollback(
        self, target: str | None, user: str | None = None, force: bool = False
    ) -> Submitted:
        active = self.store.active_deploy()
        if active is not None:
            raise ConflictError(
                f"deploy #{active.id} of {active.release} is in progress; 'turnout abort' rolls "
                "it back"
            )
        good = self.store.good_release()
        if good is None:
            raise UserError("nothing is deployed yet, so there is nothing to roll back")
        if target is None:
            earlier = [r for r in self.store.good_history() if r != good]
            if not earlier:
                raise UserError(
                    f"{good} is the only release that was ever live; nothing to go back to"
                )
            rel = self.store.release(earlier[-1])
        else:
            rel = self.store.release(target)
        if rel.name == good:
            raise UserError(f"{rel.name} is already live")
        if not Path(rel.path).is_dir():
            raise UserError(f"{rel.name} was pruned from {rel.path}; deploy it again instead")
        gate = self._migration_gate(self.load_config())
        if gate is not None and not force:
            live = Path(self.store.release(good).path)
            await asyncio.to_thread(gate.check_rollback, rel.name, Path(rel.path), live)
        await self.refresh_instances()
        running = {r: len(ids) for r, ids in self.running().items()}
        n = int(rel.config["app"]["instances"])
        d_cfg = self.config.deploy
        plan = plan_rollback(rel.name, good, running, n, d_cfg.timeout, d_cfg.drain_timeout)
        plan = [*plan, MarkGood(release=rel.name)]
        d = self.store.create_deploy(rel.name, good, "rollback", dump_plan(plan), user or _user())
        self.store.journal(d.id, "deploy", -1, "info", f"rollback #{d.id}: back to {rel.name}")
        self.start(d.id)
        return Submitted(d, rel, f"rolling back to {rel.name}", [describe(s) for s in plan])

    # --- the contract gate (docs/migrations.md) ------------------------------------------

    def _migration_gate(self, cfg: Config) -> MigrationGate | None:
        """The gate for the current ``[migrations]`` table; None when no migrations folder
        is configured. Kept while the table is unchanged: it caches each release's phases."""
        key = json.dumps(cfg.migrations, sort_keys=True)
        if self._gate is None or self._gate[0] != key:
            self._gate = (key, MigrationGate(cfg.migrations, self.cwd))
        gate = self._gate[1]
        return gate if gate.enabled else None

    async def _deploy_gate(self, cfg: Config, folder: Path, source: str) -> None:
        """Refuse, before anything changes, a release whose new migrations mix expand and
        contract, or contract the schema under a running release older than the expand."""
        gate = self._migration_gate(cfg)
        if gate is None:
            return
        await self.refresh_instances()
        folders: dict[str, Path | None] = {r.name: Path(r.path) for r in self.store.releases()}
        good = self.store.good_release()
        live = folders[good] if good else None
        releases = StoreReleases(self.store.instances(live=False), folders, gate.migrations_in)
        decision = await asyncio.to_thread(gate.check_deploy, folder, live, releases)
        if not decision.allowed:
            why = f"migration gate ({decision.reason}): {gate.explain(decision, good)}"
            raise ConflictError(f"cannot deploy {source}: {why}")

    async def retire(self, release: str | None) -> list[str]:
        """End warm windows now: stop ``release`` (or every release besides the live one)."""
        async with self.busy:
            active = self.store.active_deploy()
            if active is not None:
                raise ConflictError(
                    f"deploy #{active.id} is in progress and owns the instances; wait for it"
                )
            await self.refresh_instances()
            good = self.store.good_release()
            running = sorted({i.release for i in self.store.instances()} - {good})
            if release is not None:
                name = self.store.release(release).name
                if name == good:
                    raise ConflictError(
                        f"{name} is the live release; deploy another one, or 'turnout down'"
                    )
                if name not in running:
                    raise ConflictError(f"{name} has no running instances")
                running = [name]
            for name in running:
                await self._retire(name)
            return running

    def _retire_stale(self, good: str | None, new: str) -> list[Step]:
        """Releases still running besides the live one (a warm window) end when a new
        deploy starts."""
        stale = sorted({i.release for i in self.store.instances()} - {good, new} - {None})
        for r in stale:
            self.store.cancel_timers(r)
        return [Stop(release=r) for r in stale]

    def promote(self) -> DeployRecord:
        d = self._require_active()
        d = self.store.update_deploy(d.id, promote=True)
        self.wake.set()
        return d

    def abort(self, user: str | None = None) -> DeployRecord:
        d = self._require_active()
        if d.phase == "rollback":
            raise ConflictError(f"deploy #{d.id} is already rolling back")
        d = self.store.update_deploy(d.id, abort=True)
        self.store.journal(d.id, d.phase, d.step, "info", f"abort requested by {user or _user()}")
        self.wake.set()
        return d

    def _require_active(self) -> DeployRecord:
        d = self.store.active_deploy()
        if d is None:
            raise ConflictError("no deploy is in progress")
        return d

    def start(self, deploy_id: int) -> None:
        self.task = asyncio.get_running_loop().create_task(self.drive(deploy_id))

    # --- driving a deploy -----------------------------------------------------------------

    async def drive(self, deploy_id: int) -> None:
        sampler = asyncio.get_running_loop().create_task(self._sample(deploy_id))
        try:
            async with self.busy:
                await self._drive(deploy_id)
        except Exception:  # a bug, not a failure of the world: keep the deploy resumable
            log.exception(
                "deploy #%d: engine error; it resumes when the controller restarts", deploy_id
            )
        finally:
            await asyncio.sleep(SAMPLE_TAIL)  # the timeline shows the traffic settle
            sampler.cancel()

    async def _sample(self, deploy_id: int) -> None:
        """Record the router's per-pool counters every SAMPLE_EVERY seconds: the deploy's
        timeline for ``turnout report``."""
        while True:
            await self._sample_once(deploy_id)
            await asyncio.sleep(SAMPLE_EVERY)

    async def _sample_once(self, deploy_id: int) -> None:
        with contextlib.suppress(TurnoutError):
            stats = await self.traffic.stats()
            data = {"bounds": stats["bounds"], "pools": stats["pools"]}
            self.store.add_sample(deploy_id, float(stats.get("time", time.time())), data)

    async def _drive(self, deploy_id: int) -> None:
        self._resume_background(self.store.deploy(deploy_id))
        while True:
            d = self.store.deploy(deploy_id)
            if not d.active:
                self._stop_background()
                return
            text = d.plan if d.phase == "deploy" else (d.rollback_plan or "[]")
            plan = load_plan(text)
            if d.step >= len(plan):
                self._stop_background()
                self._finish(d)
                return
            try:
                self._check_interrupts(d)
            except StepFailed as stop:
                await self._fail(d, stop)
                continue
            step = plan[d.step]
            self.store.journal(
                d.id, d.phase, d.step, "begin", describe(step), {"step": step.model_dump()}
            )
            _fault_point(d.phase, d.step, "begin")
            try:
                detail = await self.execute(step, d)
            except StepFailed as exc:
                failure: StepFailed | None = exc
            except TurnoutError as exc:
                reason = "router_failed" if "router" in exc.message else "start_failed"
                failure = StepFailed(reason, exc.message)
            except Exception as exc:  # a bug must not leave the deploy half-done: roll back
                log.exception("deploy #%d: %s step %d failed unexpectedly", d.id, d.phase, d.step)
                failure = StepFailed(
                    "internal_error", f"internal error: {type(exc).__name__}: {exc}"
                )
            else:
                failure = None
            _fault_point(d.phase, d.step, "end")
            if failure is not None:
                self.store.journal(
                    d.id, d.phase, d.step, "fail", failure.text,
                    {"reason": failure.reason, **failure.detail},
                )  # fmt: skip
                await self._fail(d, failure)
                continue
            self.store.journal(d.id, d.phase, d.step, "end", describe(step), detail or {})
            self.store.update_deploy(d.id, step=d.step + 1)

    async def _fail(self, d: DeployRecord, failure: StepFailed) -> None:
        self._stop_background()
        if d.phase == "rollback" or d.strategy == "rollback":
            self.store.update_deploy(
                d.id,
                status="failed",
                reason="rollback_failed",
                message=message("rollback_failed", detail=failure.text),
                finished_at=time.time(),
            )
            log.error("deploy #%d: rollback failed: %s", d.id, failure.text)
            return
        await self.refresh_instances()
        running = {r: len(ids) for r, ids in self.running().items()}
        good = d.previous
        n = self._instances_of(good) if good else 0
        cfg = self.config.deploy
        plan = plan_rollback(good, d.release, running, n, cfg.timeout, cfg.drain_timeout)
        self.store.cancel_timers(d.release)
        if good:
            self.store.cancel_timers(good)
        self.store.update_deploy(
            d.id,
            phase="rollback",
            status="rolling_back",
            step=0,
            rollback_plan=dump_plan(plan),
            reason=failure.reason,
            message=failure.text,
        )
        self.store.journal(
            d.id,
            "rollback",
            -1,
            "info",
            f"rolling back to {good or 'nothing'}: {failure.text}",
            {"reason": failure.reason},
        )

    def _finish(self, d: DeployRecord) -> None:
        now = time.time()
        if d.phase == "deploy":
            reason = "rolled_back" if d.strategy == "rollback" else "deployed"
            text = message(reason, release=d.release)
            self.store.update_deploy(
                d.id, status="succeeded", reason=reason, message=text, finished_at=now
            )
            self._prune()
            self.store.prune_samples(keep_deploys=50)
        else:
            text = f"rolled back to {d.previous or 'nothing'}: {d.message}"
            self.store.update_deploy(d.id, status="rolled_back", message=text, finished_at=now)
        self.store.journal(d.id, d.phase, d.step, "info", text)
        log.info("deploy #%d: %s", d.id, text)

    def _prune(self) -> None:
        keep = self.config.deploy.keep_releases
        history = self.store.good_history()
        protected = set(history[-2:]) | {i.release for i in self.store.instances()}
        removable = [r for r in self.store.releases() if r.name not in protected]
        excess = len(self.store.releases()) - keep
        for rel in removable[: max(0, excess)]:
            with contextlib.suppress(OSError):
                _remove_tree(Path(rel.path))
            self.store.remove_release(rel.name)

    # --- steps ----------------------------------------------------------------------------

    async def execute(self, step: Step, d: DeployRecord) -> dict[str, Any]:
        match step:
            case Start():
                return await self._start(step, d)
            case Route():
                return await self._route(step, timeline=d.id)
            case AwaitHealthy():
                return await self._await_healthy(step, d)
            case Drain():
                return await self._drain(step)
            case Stop():
                return await self._stop(step)
            case Smoke():
                return await self._smoke(step)
            case Pause():
                return await self._pause(step, d)
            case Watch():
                return await self._watch(step, d)
            case KeepWarm():
                due = time.time() + step.duration
                self.store.add_timer("retire", step.release, due, d.id)
                return {"until": due}
            case MarkGood():
                self.store.set_good_release(step.release)
                return {"good": step.release}
            case Analyze(blocking=True):
                return await self._analyze(step, d)
            case Analyze():
                self._start_background(step, d)
                return {"background": step.analysis}
            case StopAnalysis():
                return self._stop_background()
        raise AssertionError(f"unknown step {step!r}")  # pragma: no cover

    async def _start(self, step: Start, d: DeployRecord) -> dict[str, Any]:
        await self.refresh_instances()
        rel = self.store.release(step.release)
        have = self.store.instances(step.release, group=step.group)
        started = []
        for _ in range(step.count - len(have)):
            inst = await self.start_instance(rel, step.group, d.id)
            started.append(inst.id)
        return {"started": started, "already": [i.id for i in have]}

    async def start_instance(
        self, rel: ReleaseRecord, group: str, deploy_id: int | None
    ) -> InstanceRecord:
        app = AppConfig.model_validate(rel.config["app"])
        port = self._free_port()
        iid = f"{rel.name}-{group}-{secrets.token_hex(3)}"
        log_path = self.state_dir / "logs" / rel.name / f"{iid}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        rec = InstanceRecord(
            id=iid,
            release=rel.name,
            deploy_id=deploy_id,
            group=group,
            port=port,
            pid=None,
            start_ticks=None,
            state="starting",
            exit_code=None,
            started_at=time.time(),
            stopped_at=None,
            log_path=str(log_path),
        )
        self.store.add_instance(rec)  # the intent first: a crash now leaves no orphan
        spec = InstanceSpec(
            id=iid,
            release=rel.name,
            workdir=Path(rel.path),
            command=app.command,
            port=port,
            log_path=log_path,
            env={**app.env, **rel.env},
            stop_signal=app.stop_signal,
            stop_timeout=app.stop_timeout,
        )
        try:
            ref = await asyncio.to_thread(self.runtime.start, spec)
        except TurnoutError as exc:
            self.store.update_instance(iid, state="exited", stopped_at=time.time())
            raise StepFailed(
                "start_failed", message("start_failed", release=rel.name, detail=exc.message)
            ) from None
        return self.store.update_instance(
            iid, pid=ref.pid, start_ticks=ref.start_ticks, state="running"
        )

    def _free_port(self) -> int:
        used = {i.port for i in self.store.instances()}
        for _ in range(50):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in used:
                return port
        raise SystemFault("no free port found on 127.0.0.1")

    async def _route(self, step: Route, timeline: int | None = None) -> dict[str, Any]:
        """Apply the step's table. ``timeline``: the deploy whose timeline gets a sample on
        each side of the switch, so no bucket of its report straddles a route change."""
        running = self.running()
        weights = proportional(running, step.releases) if step.proportional else dict(step.weights)
        include = [r for r in step.releases if r not in weights]
        include += [t["release"] for t in self.store.timers() if t["release"] not in weights]
        canary = self._release_section(step.canary, "canary") if step.canary else {}
        table = build_table(
            running,
            weights,
            self._health(set(weights) | set(include) | {step.preview or "", step.canary or ""}),
            include=include,
            preview=step.preview,
            preview_header=self._preview_header(step.preview),
            canary=step.canary,
            override_header=canary.get("override_header", "x-turnout-canary"),
            override_cookie=canary.get("override_cookie", "turnout_canary"),
            sticky=step.sticky,
        )
        # Un-drain before the switch: a pool that was drained (the warm side of a
        # blue/green) must be ready the moment the table that weights it goes live.
        serving = [r for r, w in weights.items() if w > 0] + (
            [step.preview] if step.preview else []
        )
        await self.traffic.undrain([a for r in serving for a in running.get(r, [])])
        if timeline is not None:
            await self._sample_once(timeline)
        generation = await self.traffic.apply(table)
        if timeline is not None:
            await self._sample_once(timeline)
        return {"generation": generation, "weights": weights}

    def _release_section(self, release: str, key: str) -> dict[str, Any]:
        """A section of a release's config snapshot ({} when it has none)."""
        with contextlib.suppress(UserError):
            return dict(self.store.release(release).config.get(key) or {})
        return {}

    # --- canary analysis ------------------------------------------------------------------

    def _analysis_run(self, step: Analyze, d: DeployRecord) -> AnalysisRun:
        configs = self._release_section(step.release, "analysis")
        if step.analysis not in configs:
            raise StepFailed(
                "analysis_error", f"[analysis.{step.analysis}] is not in {step.release}'s config"
            )
        cfg = AnalysisConfig.model_validate(configs[step.analysis])
        source: MetricSource = (
            PrometheusSource(cfg.prometheus)
            if cfg.source == "prometheus"
            else RouterSource(self.traffic)
        )
        key = "background" if not step.blocking else f"step {d.step}"

        def report(run: AnalysisRun, j: Judgement, final: bool) -> None:
            event = "info"
            text = f"analysis {run.name} ({cfg.judge}): {j.verdict.value}: {j.message}"
            self.store.journal(
                d.id, d.phase, d.step, event, text,
                {"analysis": run.view(), "final": final},
            )  # fmt: skip

        run = AnalysisRun(
            step.analysis, cfg, source, step.release, step.baseline, step.blocking, report
        )
        self.analyses[key] = run
        return run

    async def _analyze(self, step: Analyze, d: DeployRecord) -> dict[str, Any]:
        run = self._analysis_run(step, d)
        j = await run.run()
        outcome = _analysis_failure(j, run.cfg)
        if outcome is None:
            return {"analysis": run.view()}
        if outcome == "pause":
            await self._pause(Pause(reason=f"analysis {run.name} is inconclusive: {j.message}"), d)
            return {"analysis": run.view(), "promoted": True}
        raise StepFailed(outcome, j.message, {"analysis": run.view()})

    def _start_background(self, step: Analyze, d: DeployRecord) -> None:
        self._stop_background()
        run = self._analysis_run(step, d)

        async def watch() -> None:
            j = await run.run()
            reason = _analysis_failure(j, run.cfg) or "analysis_failed"
            self.background_failure = StepFailed(reason, j.message, {"analysis": run.view()})
            self.wake.set()

        self.background_failure = None
        self.background = asyncio.get_running_loop().create_task(watch())

    def _stop_background(self) -> dict[str, Any]:
        task, self.background = self.background, None
        if task is not None:
            task.cancel()
        run = self.analyses.get("background")
        return {"analysis": run.view()} if run else {}

    def _resume_background(self, d: DeployRecord) -> None:
        """After a restart, a deploy between its background Analyze and StopAnalysis gets
        its background analysis again (its samples start over)."""
        self.background_failure = None
        self.analyses = {}
        if d.phase != "deploy" or not d.active:
            return
        plan = load_plan(d.plan)
        running: Analyze | None = None
        for step in plan[: d.step]:
            if isinstance(step, Analyze) and not step.blocking:
                running = step
            elif isinstance(step, StopAnalysis):
                running = None
        if running is not None:
            self._start_background(running, d)

    def _health(self, releases: set[str]) -> dict[str, HealthSpec]:
        out = {}
        for r in releases:
            if not r:
                continue
            with contextlib.suppress(UserError):
                out[r] = HealthSpec.model_validate(self.store.release(r).config["health"])
        return out

    def _preview_header(self, release: str | None) -> str:
        if release:
            with contextlib.suppress(UserError):
                return str(self.store.release(release).config.get("preview_header"))
        return self.config.deploy.bluegreen.preview_header

    async def _await_healthy(self, step: AwaitHealthy, d: DeployRecord) -> dict[str, Any]:
        deadline = time.monotonic() + step.timeout
        last: dict[str, Any] = {}
        while True:
            await self.refresh_instances()
            group = self.store.instances(step.release, group=step.group)
            self._check_exits(step.release, step.group, d, "exited")
            view = await self.traffic.instances()
            waiting = [i for i in group if not view.get(i.address, {}).get("routable")]
            if group and not waiting:
                return {"healthy": [i.id for i in group]}
            if not group:
                raise StepFailed(
                    "exited",
                    message("exited", release=step.release, detail="no instance is running"),
                )
            last = {i.id: _why_not_routable(view.get(i.address)) for i in waiting}
            if time.monotonic() > deadline:
                seen = "; ".join(f"{k}: {v}" for k, v in last.items())
                raise StepFailed(
                    "not_healthy",
                    message("not_healthy", release=step.release, timeout=step.timeout, detail=seen),
                    {"waiting": last},
                )
            await self._sleep_or_abort(d)

    def _check_exits(self, release: str, group: str | None, d: DeployRecord, reason: str) -> None:
        exited = [
            i
            for i in self.store.instances(release, live=False, group=group)
            if i.state == "exited"
            and (i.deploy_id == d.id or reason == "crashed_after_switch")
            and i.stopped_at is not None
            and i.stopped_at >= d.started_at
        ]
        if exited:
            i = exited[0]
            tail = _tail(Path(i.log_path), 3)
            detail = f"{i.id} exited with code {i.exit_code}" + (f": {tail}" if tail else "")
            raise StepFailed(reason, message(reason, release=release, detail=detail))

    async def _sleep_or_abort(self, d: DeployRecord) -> None:
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), POLL)
        self._check_interrupts(d)

    def _check_interrupts(self, d: DeployRecord) -> None:
        """A person's abort, or a failed background analysis, stops the deploy phase."""
        if d.phase != "deploy":
            return
        if self.background_failure is not None:
            raise self.background_failure
        if self.store.deploy(d.id).abort:
            raise StepFailed("aborted", message("aborted", detail="a person"))

    async def _drain(self, step: Drain) -> dict[str, Any]:
        addresses = self._addresses(step.release, step.instances)
        result = await self.traffic.drain(addresses, step.timeout)
        return {
            "drained": result.get("drained"),
            "in_flight": result.get("in_flight"),
            "waited_ms": result.get("waited_ms"),
        }

    async def _stop(self, step: Stop) -> dict[str, Any]:
        await self.refresh_instances()
        if step.release is not None:
            victims = self.store.instances(step.release)
        else:
            victims = [i for i in self.store.instances() if i.id in set(step.instances)]
        codes = await asyncio.gather(*(self.stop_instance(i) for i in victims))
        return {"stopped": {i.id: c for i, c in zip(victims, codes, strict=True)}}

    async def stop_instance(self, inst: InstanceRecord) -> int | None:
        self.store.update_instance(inst.id, state="stopping")
        code = None
        if inst.pid is not None and inst.start_ticks is not None:
            app = AppConfig.model_validate(self.store.release(inst.release).config["app"])
            code = await asyncio.to_thread(
                self.runtime.stop,
                ProcessRef(inst.pid, inst.start_ticks),
                app.stop_signal,
                app.stop_timeout,
            )
        self.store.update_instance(inst.id, state="stopped", exit_code=code, stopped_at=time.time())
        return code

    def _addresses(self, release: str | None, ids: list[str]) -> list[str]:
        if release is not None:
            return [i.address for i in self.store.instances(release)]
        wanted = set(ids)
        return [i.address for i in self.store.instances(live=False) if i.id in wanted]

    async def _smoke(self, step: Smoke) -> dict[str, Any]:
        rel = self.store.release(step.release)
        smoke = SmokeConfig.model_validate(rel.config.get("smoke", {}))
        header = str(rel.config.get("preview_header") or "x-turnout-preview")
        base = f"http://{self.config.router.listen[0]}"
        results = []
        async with httpx.AsyncClient(timeout=smoke.timeout, headers={header: rel.name}) as client:
            for check in smoke.checks:
                try:
                    r = await client.request(check.method, base + check.path)
                except httpx.HTTPError as exc:
                    raise StepFailed(
                        "smoke_failed",
                        message(
                            "smoke_failed",
                            release=rel.name,
                            detail=f"{check.method} {check.path}: {exc}",
                        ),
                    ) from None
                ok = status_expected(r.status_code, parse_status_ranges(check.expect))
                if ok and check.body_contains is not None:
                    ok = check.body_contains in r.text
                results.append({"path": check.path, "status": r.status_code, "ok": ok})
                if not ok:
                    detail = f"{check.method} {check.path} answered {r.status_code}"
                    if check.body_contains is not None and r.status_code < 400:
                        detail += f" without {check.body_contains!r}"
                    raise StepFailed(
                        "smoke_failed",
                        message("smoke_failed", release=rel.name, detail=detail),
                        {"checks": results},
                    )
        if smoke.command:
            env = {
                **os.environ,
                "TURNOUT_PREVIEW_URL": base,
                "TURNOUT_PREVIEW_HEADER": f"{header}: {rel.name}",
                "TURNOUT_RELEASE": rel.name,
            }
            try:
                proc = await asyncio.create_subprocess_exec(
                    *shlex.split(smoke.command),
                    cwd=rel.path,
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
            except OSError as exc:
                raise StepFailed(
                    "smoke_failed",
                    message(
                        "smoke_failed", release=rel.name, detail=f"{smoke.command}: {exc.strerror}"
                    ),
                ) from None
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), smoke.timeout)
            except TimeoutError:
                proc.kill()
                raise StepFailed(
                    "smoke_failed",
                    message(
                        "smoke_failed",
                        release=rel.name,
                        detail=f"{smoke.command} ran longer than {smoke.timeout:g}s",
                    ),
                ) from None
            if proc.returncode != 0:
                tail = out.decode(errors="replace").strip().splitlines()[-3:]
                detail = f"{smoke.command} exited {proc.returncode}" + (
                    f": {' | '.join(tail)}" if tail else ""
                )
                raise StepFailed(
                    "smoke_failed", message("smoke_failed", release=rel.name, detail=detail)
                )
            results.append({"command": smoke.command, "ok": True})
        return {"checks": results}

    async def _pause(self, step: Pause, d: DeployRecord) -> dict[str, Any]:
        self.store.update_deploy(d.id, status="paused", promote=False)
        self.store.journal(d.id, d.phase, d.step, "info", f"paused: {step.reason}")
        started = time.monotonic()
        try:
            while True:
                current = self.store.deploy(d.id)
                self._check_interrupts(d)
                if current.promote:
                    return {"promoted": True}
                if step.duration is not None and time.monotonic() - started >= step.duration:
                    return {"waited": step.duration}
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 1.0)
        finally:
            self.store.update_deploy(d.id, status="running", promote=False)

    async def _watch(self, step: Watch, d: DeployRecord) -> dict[str, Any]:
        deadline = time.monotonic() + step.duration
        while time.monotonic() < deadline:
            await self.refresh_instances()
            self._check_exits(step.release, None, d, "crashed_after_switch")
            view = await self.traffic.instances()
            bad = [
                i
                for i in self.store.instances(step.release)
                if not view.get(i.address, {}).get("routable")
            ]
            if bad:
                seen = view.get(bad[0].address, {})
                health, last = seen.get("health", "gone"), seen.get("last_check")
                detail = f"{bad[0].id} is {health} ({last})"
                text = message("crashed_after_switch", release=step.release, detail=detail)
                raise StepFailed("crashed_after_switch", text)
            await self._sleep_or_abort(d)
        return {"watched": step.duration}

    # --- instances ------------------------------------------------------------------------

    def running(self) -> dict[str, list[str]]:
        """Addresses of the running instances of each release."""
        out: dict[str, list[str]] = {}
        for inst in self.store.instances():
            if inst.state == "running":
                out.setdefault(inst.release, []).append(inst.address)
        return out

    def _instances_of(self, release: str | None) -> int:
        if release is None:
            return 0
        with contextlib.suppress(UserError):
            return int(self.store.release(release).config["app"]["instances"])
        return self.config.app.instances

    async def refresh_instances(self) -> None:
        """Mark instances whose process ended as exited (a /proc read each: no thread needed)."""
        for inst in self.store.instances():
            if inst.pid is None or inst.start_ticks is None:
                continue
            state, code = self.runtime.state(ProcessRef(inst.pid, inst.start_ticks))
            if state != "running":
                self.store.update_instance(
                    inst.id, state="exited", exit_code=code, stopped_at=time.time()
                )
                log.warning("instance %s exited (code %s)", inst.id, code)

    async def recover(self) -> None:
        """After a (re)start: re-adopt instances, stop orphans, resume an active deploy."""
        found = await asyncio.to_thread(self.runtime.find, self.state_dir)
        known = {i.id: i for i in self.store.instances(live=False)}
        for iid, ref in found.items():
            rec = known.get(iid)
            if rec is not None and rec.live and rec.pid is None:
                self.store.update_instance(
                    iid, pid=ref.pid, start_ticks=ref.start_ticks, state="running"
                )
                log.info("re-adopted %s (pid %d) whose start was interrupted", iid, ref.pid)
            elif (
                rec is None
                or not rec.live
                or (rec.pid, rec.start_ticks) != (ref.pid, ref.start_ticks)
            ):
                log.warning("stopping orphan instance %s (pid %d)", iid, ref.pid)
                await asyncio.to_thread(self.runtime.stop, ref, "SIGTERM", 5.0)
        for inst in self.store.instances():
            if inst.pid is None and inst.id not in found:
                self.store.update_instance(inst.id, state="exited", stopped_at=time.time())
            elif inst.state == "stopping":
                await self.stop_instance(inst)
        await self.refresh_instances()
        d = self.store.active_deploy()
        if d is not None:
            self.store.journal(d.id, d.phase, d.step, "info", "controller restarted: resuming")
            log.info("resuming deploy #%d at %s step %d", d.id, d.phase, d.step)
            self.start(d.id)

    # --- background: warm windows and supervision ----------------------------------------

    async def tick(self) -> None:
        """Retire releases whose warm window ended; restart instances of the live release
        that died. Skipped while a deploy runs: its plan owns the instances then."""
        if self.busy.locked() or self.store.active_deploy() is not None:
            return
        async with self.busy:
            now = time.time()
            for timer in self.store.timers():
                if timer["due_at"] <= now:
                    await self._retire(timer["release"])
                    self.store.remove_timer(timer["id"])
            await self._supervise()

    async def _retire(self, release: str) -> None:
        good = self.store.good_release()
        if release == good:
            return
        self.store.cancel_timers(release)
        if good:
            await self._route(Route(weights={good: 100}))
        await self._stop(Stop(release=release))
        log.info("warm window of %s ended: stopped", release)

    async def _supervise(self) -> None:
        good = self.store.good_release()
        if good is None:
            return
        await self.refresh_instances()
        live = self.store.instances(good)
        want = self._instances_of(good)
        if len(live) < want:
            rel = self.store.release(good)
            for _ in range(want - len(live)):
                inst = await self.start_instance(rel, "restart", None)
                log.warning("restarted an instance of %s: %s", good, inst.id)
            await self._route(Route(weights={good: 100}))
            return
        table = await self.traffic.table()
        expected = sorted(i.address for i in live)
        pool = table.get("pools", {}).get(good, {})
        if (
            sorted(pool.get("instances", [])) != expected
            or table.get("weights", {}).get(good, 0) <= 0
        ):
            await self._route(Route(weights={good: 100}))
            log.warning("route table did not match the live release %s: re-applied", good)


def _fault_point(phase: str, step: int, when: str) -> None:
    """Fault injection for crash tests: ``TURNOUT_FAULT=crash:<phase>:<step>:<begin|end>``
    makes the controller SIGKILL itself there (after the journal write of ``begin``,
    or after the step ran but before its ``end`` is journaled)."""
    if os.environ.get("TURNOUT_FAULT") == f"crash:{phase}:{step}:{when}":
        log.warning("TURNOUT_FAULT: killing the controller at %s step %d (%s)", phase, step, when)
        os.kill(os.getpid(), signal.SIGKILL)


def check_command(command: str, workdir: Path) -> None:
    """Refuse a deploy whose program does not exist, before anything changes."""
    try:
        argv = shlex.split(command.replace("{port}", "0"))
    except ValueError as exc:
        raise UserError(f"app.command: {exc}") from None
    program = argv[0] if argv else ""
    if "/" in program:
        if not (workdir / program).exists() and not Path(program).exists():
            raise UserError(f"app.command: {program} does not exist in the release ({workdir})")
    elif shutil.which(program) is None:
        raise UserError(f"app.command: {program!r} is not on PATH")


def _analysis_failure(j: Judgement, cfg: AnalysisConfig) -> str | None:
    """What a final judgement means for the deploy: None (carry on), "pause" (a human
    decides), or the reason code of a rollback."""
    if j.verdict is Verdict.PASS:
        return None
    if j.verdict is Verdict.FAIL:
        return "analysis_failed"
    if j.verdict is Verdict.ERROR:
        return "analysis_error"
    if j.verdict is Verdict.INCONCLUSIVE:
        return "pause" if cfg.on_inconclusive == "pause" else "analysis_inconclusive"
    return None


def _why_not_routable(seen: dict[str, Any] | None) -> str:
    if not seen:
        return "not in the router's table"
    parts = [str(seen.get("health"))]
    if seen.get("state") != "ready":
        parts.append(str(seen.get("state")))
    if seen.get("ejected"):
        parts.append("ejected")
    if seen.get("last_check"):
        parts.append(f"last check: {seen['last_check']}")
    return ", ".join(parts)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _remove_tree(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
