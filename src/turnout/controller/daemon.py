"""The controller process: the engine, its API for the CLI (and dashboard), the
background loop (warm windows, supervision) and recovery after a restart.

Instances and the router are separate processes and outlive the controller; a
restarted controller re-adopts them and resumes any deploy in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from turnout.controller.engine import Engine
from turnout.controller.paths import Paths, load_config_file, read_token
from turnout.controller.traffic import RouterTraffic
from turnout.core.config import Config
from turnout.core.plan import describe, load_plan
from turnout.core.tables import split
from turnout.errors import SystemFault, TurnoutError, UserError
from turnout.httpapi import JsonServer, Request, Response, Routes
from turnout.store.sqlite import as_dict

log = logging.getLogger("turnout.controller")


class ControllerAPI(JsonServer):
    def __init__(self, controller: Controller, token: str | None) -> None:
        self.c = controller
        routes = Routes()
        routes.add("GET", "/v1/status", self.status)
        routes.add("GET", "/v1/deploys", self.history)
        routes.add("POST", "/v1/deploys", self.deploy)
        routes.add("GET", "/v1/deploys/{id}", self.deploy_detail)
        routes.add("GET", "/v1/deploys/{id}/events", self.events)
        routes.add("GET", "/v1/deploys/{id}/timeline", self.timeline)
        routes.add("POST", "/v1/rollback", self.rollback)
        routes.add("POST", "/v1/promote", self.promote)
        routes.add("POST", "/v1/abort", self.abort)
        routes.add("POST", "/v1/retire", self.retire)
        routes.add("GET", "/v1/logs", self.logs)
        routes.add("POST", "/v1/down", self.down)
        controller.flags.mount(routes)  # the flag service: OFREP, stream, /v1/flags
        controller.experiments.mount(routes)  # /v1/experiments: definitions, events, results
        super().__init__(routes, token)

    @property
    def engine(self) -> Engine:
        return self.c.engine

    async def status(self, request: Request) -> Response:
        return Response(200, await self.c.status())

    async def history(self, request: Request) -> Response:
        limit = _int(request.query.get("limit", "50"), "limit")
        return Response(
            200, {"deploys": [_deploy_view(d) for d in self.engine.store.deploys(limit)]}
        )

    async def deploy(self, request: Request) -> Response:
        body = request.json()
        source = body.get("source")
        if not isinstance(source, str) or not source:
            raise UserError("deploy: 'source' (a folder, archive, wheel or git:REF) is required")
        self.c.experiments.check_deploy_allowed("deploy")
        submitted = await self.engine.submit_deploy(
            source, body.get("strategy"), bool(body.get("force")), body.get("user")
        )
        payload = {
            "release": submitted.release.name,
            "message": submitted.message,
            "steps": submitted.steps,
            "deploy": _deploy_view(submitted.deploy) if submitted.deploy else None,
        }
        return Response(201 if submitted.deploy else 200, payload)

    async def deploy_detail(self, request: Request) -> Response:
        d = self.engine.store.deploy(_int(request.params["id"], "deploy id"))
        return Response(200, _deploy_view(d, with_plan=True))

    async def events(self, request: Request) -> Response:
        """Journal entries after ``after``; waits up to ``wait`` seconds for new ones."""
        deploy_id = _int(request.params["id"], "deploy id")
        after = _int(request.query.get("after", "0"), "after")
        wait = min(float(request.query.get("wait", "0") or 0), 30.0)
        store = self.engine.store
        deadline = time.monotonic() + wait
        while True:
            entries = store.journal_entries(deploy_id, after)
            d = store.deploy(deploy_id)
            if entries or not d.active or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        return Response(
            200,
            {"deploy": _deploy_view(d), "events": [e.__dict__ for e in entries]},
        )

    async def timeline(self, request: Request) -> Response:
        """Everything a report needs: the deploy, its journal and the router samples."""
        store = self.engine.store
        d = store.deploy(_int(request.params["id"], "deploy id"))
        return Response(
            200,
            {
                "deploy": _deploy_view(d, with_plan=True),
                "events": [e.__dict__ for e in store.journal_entries(d.id)],
                "samples": [{"at": at, **data} for at, data in store.samples(d.id)],
            },
        )

    async def rollback(self, request: Request) -> Response:
        body = request.json()
        self.c.experiments.check_deploy_allowed("rollback")
        submitted = await self.engine.submit_rollback(
            body.get("release"), body.get("user"), bool(body.get("force"))
        )
        assert submitted.deploy is not None
        return Response(
            201,
            {
                "release": submitted.release.name,
                "message": submitted.message,
                "steps": submitted.steps,
                "deploy": _deploy_view(submitted.deploy),
            },
        )

    async def promote(self, request: Request) -> Response:
        return Response(200, {"deploy": _deploy_view(self.engine.promote())})

    async def abort(self, request: Request) -> Response:
        return Response(
            200, {"deploy": _deploy_view(self.engine.abort(request.json().get("user")))}
        )

    async def retire(self, request: Request) -> Response:
        release = request.json().get("release")
        if release is not None and not isinstance(release, str):
            raise UserError("release must be a release name (e.g. r3), or left out for all")
        self.c.experiments.check_deploy_allowed("retire")
        return Response(200, {"retired": await self.engine.retire(release)})

    async def logs(self, request: Request) -> Response:
        store = self.engine.store
        ref = request.query.get("release")
        rel = store.release(ref) if ref else None
        name = rel.name if rel else store.good_release()
        if name is None:
            raise UserError("nothing is deployed yet; name a release")
        lines = _int(request.query.get("lines", "100"), "lines")
        out = []
        for inst in sorted(store.instances(name, live=False), key=lambda i: i.started_at)[-10:]:
            text = _tail_lines(Path(inst.log_path), lines)
            out.append({"instance": inst.id, "state": inst.state, "lines": text})
        return Response(200, {"release": name, "instances": out})

    async def down(self, request: Request) -> Response:
        stopped = await self.c.stop_everything()
        asyncio.get_running_loop().call_later(0.2, self.c.stop.set)
        return Response(200, {"stopped": stopped})


class Controller:
    def __init__(self, paths: Paths, config: Config) -> None:
        from turnout.releases.artifacts import ingest
        from turnout.runtime.local import LocalRuntime

        self.paths = paths
        self.config = config
        self.token = read_token(paths)
        from turnout.store import Store

        self.traffic = RouterTraffic(config.router.admin, self.token)
        self.engine = Engine(
            Store(paths.db),
            LocalRuntime(paths.state_dir),
            self.traffic,
            paths.state_dir,
            lambda: load_config_file(paths.config),
            lambda source, releases, cwd: ingest(source, releases, cwd=cwd),
            paths.root,
        )
        self.stop = asyncio.Event()
        from turnout.flags.service import FlagService

        self.flags = FlagService.open(
            config.flags.database, config.flags.read_token, paths.state_dir, paths.root, self.token
        )
        from turnout.experiments.service import ExperimentService
        from turnout.experiments.traffic import ReleaseControl

        self.experiments = ExperimentService.open(
            config.experiments.database,
            paths.state_dir,
            paths.root,
            ReleaseControl(self.engine, paths.root),
            self._flag_variants,
            config.experiments.ingest_token,
        )

    def _flag_variants(self, key: str) -> list[str] | None:
        flag = self.flags.snapshot.document.flags.get(key)
        return list(flag.variants) if flag is not None else None

    async def status(self) -> dict[str, Any]:
        engine = self.engine
        store = engine.store
        await engine.refresh_instances()
        try:
            view = await self.traffic.instances()
            table = await self.traffic.table()
            router_ok = True
        except TurnoutError:
            view, table, router_ok = {}, {}, False
        good = store.good_release()
        active = store.active_deploy()
        instances = []
        for inst in store.instances():
            seen = view.get(inst.address, {})
            instances.append(
                {
                    "id": inst.id,
                    "release": inst.release,
                    "address": inst.address,
                    "state": inst.state,
                    "pid": inst.pid,
                    "group": inst.group,
                    "health": seen.get("health", "not routed"),
                    "routable": bool(seen.get("routable")),
                    "in_flight": seen.get("in_flight", 0),
                    "drain": seen.get("state") == "drain",
                }
            )
        running = {i["release"] for i in instances}
        releases = [
            {
                "name": r.name,
                "digest": r.digest,
                "source": r.source,
                "created_at": r.created_at,
                "live": r.name == good,
                "running": r.name in running,
            }
            for r in store.releases()
        ]
        return {
            "app": self.config.app.name,
            "good": good,
            "deploy": _deploy_view(active, with_plan=True) if active else None,
            "releases": releases,
            "instances": instances,
            "traffic": {
                "router": router_ok,
                "generation": table.get("generation"),
                "split": split(table) if table else {},
                "weights": table.get("weights", {}),
            },
            "timers": store.timers(),
            "analysis": [run.view() for run in engine.analyses.values()] if active else [],
            "router": {"listen": self.config.router.listen, "admin": self.config.router.admin},
        }

    async def stop_everything(self) -> list[str]:
        engine = self.engine
        if engine.task is not None and not engine.task.done():
            engine.task.cancel()
        await engine.refresh_instances()
        insts = engine.store.instances()
        with contextlib.suppress(TurnoutError):
            await self.traffic.apply({"pools": {}, "weights": {}})
        await asyncio.gather(*(engine.stop_instance(i) for i in insts))
        return [i.id for i in insts]

    async def run(self) -> None:
        engine = self.engine
        await engine.recover()
        await self.experiments.install_config(self.config.experiments.definitions)
        routes = ControllerAPI(self, self.token)
        host, _, port = self.config.controller.api.rpartition(":")
        try:
            server = await asyncio.start_server(routes.handle, host, int(port), limit=64 * 1024)
        except OSError as exc:
            raise SystemFault(
                f"controller.api {self.config.controller.api}: cannot listen ({exc.strerror})"
            ) from None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        log.info("turnout controller %d: API on %s", os.getpid(), self.config.controller.api)
        ticker = loop.create_task(self._tick())
        await self.stop.wait()
        ticker.cancel()
        server.close()
        if engine.task is not None and not engine.task.done():
            engine.task.cancel()  # the deploy resumes from its journal next time
        await self.traffic.close()
        await self.flags.close()
        await self.experiments.close()
        engine.store.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.engine.tick()
                await self.experiments.tick()  # a release-level experiment's split stays live
            except TurnoutError as exc:
                log.warning("background check: %s", exc)
            except Exception:
                log.exception("background check failed")


def _deploy_view(d: Any, with_plan: bool = False) -> dict[str, Any]:
    data = as_dict(d)
    if with_plan:
        data["steps"] = [describe(s) for s in load_plan(d.plan)]
        if d.rollback_plan:
            data["rollback_steps"] = [describe(s) for s in load_plan(d.rollback_plan)]
    data.pop("plan", None)
    data.pop("rollback_plan", None)
    return data


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name}: {value!r} is not a number") from None


def _tail_lines(path: Path, n: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def run_controller(config_path: Path) -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = load_config_file(config_path)
    paths = Paths.of(config_path, config)
    controller_main(paths, config)


def controller_main(paths: Paths, config: Config) -> None:
    import uvloop

    uvloop.run(Controller(paths, config).run())
