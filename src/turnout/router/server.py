"""The router process: listeners, the route table swap, health, drain, shutdown.

``Router`` owns every piece of state the request path reads (the live table,
the instances, the clock) and every change to it goes through one of its
methods, each applied on the event loop thread in one step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from turnout.core.health import Health, HealthState, observe
from turnout.core.retry import CONNECT, TIMEOUT
from turnout.core.routes import RouteTableSpec, RouteTableUpdate, parse_address, parse_route_table
from turnout.errors import ConflictError, SystemFault, UserError
from turnout.router.downstream import CONNECTING, ClientConnection, Exchange
from turnout.router.healthcheck import HealthChecker
from turnout.router.instances import DRAIN, LATENCY_BOUNDS, READY, Instance, Stats
from turnout.router.settings import RouterSettings
from turnout.router.state import FORMAT, STATE_FILE, read_state, write_atomic
from turnout.router.table import LivePool, LiveTable
from turnout.router.upstream import UpstreamConnection

log = logging.getLogger("turnout.router")

TICK = 0.25  # seconds between timeout sweeps; also the resolution of the coarse clock


class Router:
    def __init__(self, settings: RouterSettings) -> None:
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.clock = self.loop.time()
        self.started = time.time()
        self.clients: set[ClientConnection] = set()
        self.instances: dict[str, Instance] = {}
        self.checkers: dict[str, HealthChecker] = {}
        self.remainders: dict[str, Stats] = {}
        self.generation = 0
        self.table = LiveTable(0, RouteTableSpec(pools={}), {})
        self.closing = False
        self.upgrades = frozenset(u.lower().encode() for u in settings.upgrades)
        # Read on every request: plain attributes rather than settings lookups.
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.max_body_bytes = settings.max_body_bytes
        self.rejected: Counter[str] = Counter()
        self.client_aborts = 0
        self.servers: list[asyncio.Server] = []
        self.admin_server: asyncio.Server | None = None
        self.state_path = Path(settings.state_dir) / STATE_FILE if settings.state_dir else None
        self._apply_lock = asyncio.Lock()
        self._persist_lock = asyncio.Lock()
        self._persist_again = False
        self._ticker: asyncio.Task[None] | None = None
        self.stopped = asyncio.Event()  # closing, and the last client connection is gone
        self.finished = asyncio.Event()  # shutdown complete
        self._shutdown_task: asyncio.Task[None] | None = None

    # --- Owner protocol (instances call these) --------------------------------------------

    def now(self) -> float:
        return self.loop.time()

    def instance_changed(self, inst: Instance) -> None:
        pool = self.table.by_instance.get(inst.address)
        if pool is not None and pool.instances and inst in pool.instances:
            self.table.refresh(pool)

    # --- the request path's helpers -------------------------------------------------------

    def connect(self, ex: Exchange, inst: Instance) -> None:
        inst.connecting += 1
        task = self.loop.create_task(
            self.loop.create_connection(
                partial(UpstreamConnection, inst, self), inst.host, inst.port
            )
        )
        ex.connect_task = task
        task.add_done_callback(partial(self._connected, ex, inst))

    def _connected(self, ex: Exchange, inst: Instance, task: asyncio.Task[Any]) -> None:
        inst.connecting -= 1
        waiting = ex.phase == CONNECTING and ex.instance is inst and ex.connect_task is task
        if task.cancelled():
            if waiting:
                ex.connect_failed(inst, TIMEOUT if not self.closing else CONNECT)
            return
        exc = task.exception()
        if exc is not None:
            if waiting:
                ex.connect_failed(inst, CONNECT)
            return
        _, conn = task.result()
        if waiting:
            ex.connected(conn)
        else:
            inst.release(conn)

    def count_unavailable(self, pool: LivePool) -> None:
        self.rejected["no_instance"] += 1

    def pool_remainder(self, pool: str) -> Stats:
        st = self.remainders.get(pool)
        if st is None:
            st = self.remainders[pool] = Stats()
        return st

    # --- route table ----------------------------------------------------------------------

    async def apply(self, update: RouteTableUpdate, wait_healthy: float | None = None) -> int:
        """Make ``update`` the live table; returns its generation once live and saved."""
        async with self._apply_lock:
            if (
                update.expected_generation is not None
                and update.expected_generation != self.generation
            ):
                raise ConflictError(
                    f"expected_generation is {update.expected_generation} but the live "
                    f"table is generation {self.generation}; read it again and retry"
                )
            spec = update.table()
            self._stage(spec)
            if wait_healthy:
                try:
                    await self._wait_healthy(spec, wait_healthy)
                except ConflictError:
                    self._unstage()
                    raise
            self._swap(spec)
        await self.persist()
        return self.generation

    def _stage(self, spec: RouteTableSpec) -> None:
        """Create and configure the table's instances (health checks start) before the swap."""
        for name, pool in spec.pools.items():
            for addr in pool.instances:
                inst = self.instances.get(addr)
                if inst is None:
                    inst = self.instances[addr] = Instance(
                        addr, self, self.settings.max_idle_per_instance
                    )
                elif inst.pool and inst.pool != name:
                    # Moving between pools: its history stays with the old pool.
                    self.pool_remainder(inst.pool).merge(inst.stats)
                    inst.stats = Stats()
                inst.pool = name
                if inst.retired:
                    # Back in a table after leaving it: a new instance on an old address.
                    inst.retired = False
                    inst.admin = READY
                inst.passive = pool.passive
                inst.max_connections = pool.max_connections
                self._configure_checks(inst, pool.health)
                inst.refresh()

    def _configure_checks(self, inst: Instance, health: Any) -> None:
        checker = self.checkers.get(inst.address)
        if checker is not None and checker.spec == health:
            return
        if checker is not None:
            checker.stop()
            del self.checkers[inst.address]
        if health is None:
            inst.checked = False
            return
        if not inst.checked:
            inst.checked = True
            inst.health = HealthState()
        self.checkers[inst.address] = HealthChecker(self, inst, health)

    def _unstage(self) -> None:
        live = self.table.by_instance
        for addr in [a for a in self.instances if a not in live]:
            self._remove(self.instances[addr])

    async def _wait_healthy(self, spec: RouteTableSpec, timeout: float) -> None:
        deadline = self.loop.time() + timeout
        weighted = [p for p, w in spec.weights.items() if w > 0]
        while True:
            waiting = [
                addr
                for p in weighted
                for addr in spec.pools[p].instances
                if not self.instances[addr].routable
            ]
            if not waiting:
                return
            if self.loop.time() >= deadline:
                raise ConflictError(
                    f"instances not healthy within {timeout:g}s: {', '.join(waiting)}; "
                    "the live table is unchanged"
                )
            await asyncio.sleep(0.05)

    def _swap(self, spec: RouteTableSpec) -> None:
        self.generation += 1
        new = LiveTable(self.generation, spec, self.instances)
        old = self.table
        self.table = new  # the switch: the next request reads the new table
        for addr in set(old.by_instance) - set(new.by_instance):
            inst = self.instances.get(addr)
            if inst is not None:
                self._retire(inst)
        log.info("route table generation %d is live: weights %s", self.generation, spec.weights)

    def _retire(self, inst: Instance) -> None:
        inst.retired = True
        checker = self.checkers.pop(inst.address, None)
        if checker is not None:
            checker.stop()
        inst.refresh()
        if inst.in_flight == 0:
            self._remove(inst)

    def _remove(self, inst: Instance) -> None:
        checker = self.checkers.pop(inst.address, None)
        if checker is not None:
            checker.stop()
        inst.retired = True
        inst.close_idle()
        if inst.pool:
            self.pool_remainder(inst.pool).merge(inst.stats)
        self.instances.pop(inst.address, None)

    # --- health ---------------------------------------------------------------------------

    def health_result(self, inst: Instance, passed: bool, seen: str) -> None:
        checker = self.checkers.get(inst.address)
        if checker is None:
            return
        before = inst.health.status
        inst.health = observe(inst.health, passed, checker.spec.rise, checker.spec.fall)
        if inst.health.status is not before:
            log.info(
                "instance %s (%s) is %s: %s",
                inst.address,
                inst.pool,
                inst.health.status.value,
                seen,
            )
            inst.refresh()
            self.loop.create_task(self.persist())

    # --- drain ----------------------------------------------------------------------------

    def resolve(
        self, pool: str | None, instance: str | None, instances: list[str] | None = None
    ) -> list[Instance]:
        """The instances a drain/undrain names: one pool, one instance, or a list."""
        given = [x for x in (pool, instance, instances) if x is not None]
        if len(given) != 1:
            raise UserError("give exactly one of 'pool', 'instance' or 'instances'")
        if pool is not None:
            live = self.table.pools.get(pool)
            if live is None:
                known = ", ".join(self.table.pools) or "none"
                raise UserError(f"pool {pool!r} is not in the route table (pools: {known})")
            return list(live.instances)
        addresses = [instance] if instance is not None else list(instances or [])
        found = []
        for addr in addresses:
            if not isinstance(addr, str):
                raise UserError("instances must be a list of HOST:PORT strings")
            inst = self.instances.get(addr)
            if inst is None or inst.retired:
                raise UserError(f"instance {addr!r} is not in the route table")
            found.append(inst)
        return found

    async def drain(self, instances: list[Instance], timeout: float) -> dict[str, Any]:
        start = self.loop.time()
        for inst in instances:
            inst.admin = DRAIN
            inst.refresh()  # no new requests; idle upstream connections close
        await self.persist()
        waits = []
        for inst in instances:
            if inst.in_flight > 0:
                fut: asyncio.Future[None] = self.loop.create_future()
                inst.drain_waiters.append(fut)
                waits.append(fut)
        if waits:
            await asyncio.wait(waits, timeout=timeout)
            for fut in waits:
                fut.cancel()
        left = sum(i.in_flight for i in instances)
        return {
            "drained": left == 0,
            "in_flight": left,
            "waited_ms": round((self.loop.time() - start) * 1000, 1),
            "instances": [i.address for i in instances],
        }

    async def undrain(self, instances: list[Instance]) -> dict[str, Any]:
        for inst in instances:
            inst.admin = READY
            inst.refresh()
        await self.persist()
        return {"instances": [i.address for i in instances], "state": READY}

    # --- views ----------------------------------------------------------------------------

    def routes_view(self) -> dict[str, Any]:
        return {"generation": self.generation, **self.table.spec.to_json()}

    def instances_view(self) -> dict[str, Any]:
        out = []
        for inst in self.instances.values():
            checker = self.checkers.get(inst.address)
            out.append(
                {
                    "address": inst.address,
                    "pool": inst.pool,
                    "state": inst.admin,
                    "health": inst.health.status.value if inst.checked else "unchecked",
                    "last_check": checker.last if checker else None,
                    "routable": inst.routable,
                    "ejected": inst.ejected_until > self.loop.time(),
                    "retired": inst.retired,
                    "in_flight": inst.in_flight,
                    "connections": len(inst.conns),
                    "idle_connections": len(inst.idle),
                }
            )
        return {"generation": self.generation, "instances": out}

    def stats_view(self) -> dict[str, Any]:
        """Counters per pool (live instances plus retired ones), for timelines."""
        pools: dict[str, Stats] = {}
        in_flight: dict[str, int] = {}
        for name, rest in self.remainders.items():
            pools.setdefault(name, Stats()).merge(rest)
        for inst in self.instances.values():
            if inst.pool:
                pools.setdefault(inst.pool, Stats()).merge(inst.stats)
                in_flight[inst.pool] = in_flight.get(inst.pool, 0) + inst.in_flight
        return {
            "generation": self.generation,
            "time": time.time(),
            "bounds": list(LATENCY_BOUNDS),
            "pools": {
                name: {
                    "codes": st.codes[1:],
                    "hist": st.hist,
                    "sum": st.dsum,
                    "errors": st.errors,
                    "retries": st.retries,
                    "in_flight": in_flight.get(name, 0),
                }
                for name, st in pools.items()
            },
        }

    # --- persistence ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "generation": self.generation,
            "table": self.table.spec.to_json(),
            "instances": {
                addr: {"state": inst.admin, "health": inst.health.status.value}
                for addr, inst in self.instances.items()
                if not inst.retired
            },
        }

    async def persist(self) -> None:
        """Save the current state; concurrent calls coalesce, the last state wins."""
        if self.state_path is None:
            return
        if self._persist_lock.locked():
            self._persist_again = True
        async with self._persist_lock:
            while True:
                self._persist_again = False
                data = self.snapshot()
                await self.loop.run_in_executor(None, write_atomic, self.state_path, data)
                if not self._persist_again:
                    return

    def restore(self) -> None:
        if self.state_path is None:
            return
        try:
            data = read_state(self.state_path)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if data is None:
            return
        update = parse_route_table(data.get("table", {}), source=str(self.state_path))
        spec = update.table()
        self._stage(spec)
        saved = data.get("instances", {})
        for addr, inst in self.instances.items():
            info = saved.get(addr, {})
            if info.get("state") == DRAIN:
                inst.admin = DRAIN
            if inst.checked and info.get("health") == Health.HEALTHY.value:
                checker = self.checkers.get(addr)
                rise = checker.spec.rise if checker else 1
                inst.health = HealthState(Health.HEALTHY, rise, 0)
            inst.refresh()
        self.generation = int(data.get("generation", 1)) - 1
        self._swap(spec)
        log.info("restored route table generation %d from %s", self.generation, self.state_path)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, sockets: list[socket.socket]) -> None:
        from turnout.router.admin import AdminAPI

        self.restore()
        for sock in sockets:
            server = await self.loop.create_server(
                partial(ClientConnection, self), sock=sock, backlog=1024
            )
            self.servers.append(server)
        admin = AdminAPI(self)
        host, port = parse_address(self.settings.admin)
        try:
            self.admin_server = await asyncio.start_server(
                admin.handle, host, port, limit=64 * 1024, reuse_address=True
            )
        except OSError as exc:
            raise SystemFault(
                f"cannot listen on admin {self.settings.admin}: {exc.strerror}"
            ) from None
        self._ticker = self.loop.create_task(self._tick())

    async def _tick(self) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(TICK)
            now = self.clock = self.loop.time()
            for client in list(self.clients):
                client.check_timeouts(now)
            expire_before = now - settings.upstream_idle_timeout
            for inst in list(self.instances.values()):
                inst.expire_idle(expire_before)
                if inst.ejected_until and not inst.routable and inst.ejected_until <= now:
                    inst.ejected_until = 0.0
                    inst.refresh()
                if inst.retired and inst.in_flight == 0:
                    self._remove(inst)
            if self.closing and not self.clients:
                self.stopped.set()

    def request_shutdown(self) -> None:
        if self._shutdown_task is None:
            self._shutdown_task = self.loop.create_task(self.shutdown())

    async def shutdown(self) -> None:
        """Stop accepting; finish what is in flight; answer each connection's next
        request with ``Connection: close``; close connections idle past a grace."""
        self.closing = True
        log.info("shutting down: %d client connections open", len(self.clients))
        for server in self.servers:
            server.close()
        if not self.clients:
            self.stopped.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.shutdown_timeout):
                await self.stopped.wait()
        for client in list(self.clients):
            client.abort()
        for checker in self.checkers.values():
            checker.stop()
        if self._ticker is not None:
            self._ticker.cancel()
        if self.admin_server is not None:
            self.admin_server.close()
        await self.persist()
        self.finished.set()


def bind_socket(address: str) -> socket.socket:
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"--listen {address}: cannot resolve {host!r} ({exc.strerror})") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise SystemFault(f"cannot listen on {address}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


async def serve(settings: RouterSettings, ready: asyncio.Event | None = None) -> Router:
    """Run a router until SIGTERM/SIGINT (or ``router.shutdown()``); returns it stopped."""
    sockets = [bind_socket(a) for a in settings.listen]
    router = Router(settings)
    try:
        await router.start(sockets)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, router.request_shutdown)
    log.info(
        "turnout router %s: listening on %s, admin on %s",
        os.getpid(),
        ", ".join(settings.listen),
        settings.admin,
    )
    if ready is not None:
        ready.set()
    await router.finished.wait()
    return router


def run(settings: RouterSettings) -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))
