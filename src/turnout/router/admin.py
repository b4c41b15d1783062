"""The router's admin API (see docs/router.md): route tables, instances, drain,
health and metrics, on its own listener. Reads are open (the listener is loopback
by default); every change needs the bearer token when one is configured."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import turnout
from turnout.core.durations import parse_duration
from turnout.core.routes import parse_route_table
from turnout.errors import UserError
from turnout.httpapi import JsonServer, Request, Response, Routes
from turnout.router import metrics

if TYPE_CHECKING:
    from turnout.router.server import Router


def _duration(value: Any, field: str, default: float) -> float:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UserError(f"{field}: {exc}") from None


class AdminAPI(JsonServer):
    def __init__(self, router: Router) -> None:
        self.router = router
        routes = Routes()
        routes.add("GET", "/v1/routes", self.get_routes)
        routes.add("PUT", "/v1/routes", self.put_routes)
        routes.add("GET", "/v1/instances", self.get_instances)
        routes.add("POST", "/v1/drain", self.post_drain)
        routes.add("POST", "/v1/undrain", self.post_undrain)
        routes.add("GET", "/v1/health", self.get_health)
        routes.add("GET", "/v1/stats", self.get_stats)
        routes.add("GET", "/metrics", self.get_metrics)
        routes.add("POST", "/v1/restart", self.post_restart)
        super().__init__(routes, router.settings.token)

    def _targets(self, data: dict[str, Any], allowed: set[str]) -> list[Any]:
        unknown = set(data) - allowed
        if unknown:
            raise UserError(f"unknown key {sorted(unknown)[0]!r}; use {', '.join(sorted(allowed))}")
        return self.router.resolve(data.get("pool"), data.get("instance"), data.get("instances"))

    async def get_routes(self, request: Request) -> Response:
        return Response(200, self.router.routes_view())

    async def put_routes(self, request: Request) -> Response:
        update = parse_route_table(request.body)
        wait = request.query.get("wait_healthy")
        timeout = _duration(wait, "wait_healthy", 0.0) if wait else None
        generation = await self.router.apply(update, wait_healthy=timeout)
        return Response(200, {"generation": generation})

    async def get_instances(self, request: Request) -> Response:
        return Response(200, self.router.instances_view())

    async def post_drain(self, request: Request) -> Response:
        data = request.json()
        targets = self._targets(data, {"pool", "instance", "instances", "timeout"})
        timeout = _duration(data.get("timeout"), "timeout", 30.0)
        return Response(200, await self.router.drain(targets, timeout))

    async def post_undrain(self, request: Request) -> Response:
        data = request.json()
        targets = self._targets(data, {"pool", "instance", "instances"})
        return Response(200, await self.router.undrain(targets))

    async def post_restart(self, request: Request) -> Response:
        data = request.json()
        unknown = set(data) - {"timeout"}
        if unknown:
            raise UserError(f"unknown key {sorted(unknown)[0]!r}; use timeout")
        timeout = _duration(data.get("timeout"), "timeout", 30.0)
        return Response(200, await self.router.restart(timeout))

    async def get_health(self, request: Request) -> Response:
        router = self.router
        payload = {
            "status": "closing" if router.closing else "ok",
            "generation": router.generation,
            "pid": os.getpid(),
            "version": turnout.__version__,  # `turnout up` restarts other versions
        }
        return Response(503 if router.closing else 200, payload)

    async def get_stats(self, request: Request) -> Response:
        return Response(200, self.router.stats_view())

    async def get_metrics(self, request: Request) -> Response:
        return Response(
            200,
            body=metrics.render(self.router),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )
