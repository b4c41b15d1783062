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
from turnout.core.routes import RouteTableSpec, RouteTableUpdate, parse_route_table
from turnout.errors import ConflictError, SystemFault, UserError
from turnout.router import handover
from turnout.router.downstream import CONNECTING, ClientConnection, Exchange
from turnout.router.healthcheck import HealthChecker
from turnout.router.instances import DRAIN, ERROR_KINDS, LATENCY_BOUNDS, READY, Instance, Stats
from turnout.router.settings import RouterSettings
from turnout.router.state import FORMAT, STATE_FILE, read_state, write_atomic
from turnout.router.table import LivePool, LiveTable
from turnout.router.upstream import UpstreamConnection
from turnout.runtime import sockets as sd

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
        # The listening sockets themselves, held for the router's life (the servers
        # accept on duplicates): what a successor inherits on restart.
        self.listen_sockets: list[socket.socket] = []
        self.admin_socket: socket.socket | None = None
        self.admin_api: Any = None
        self.successor: int | None = None  # pid of the router this one handed over to
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
            self._check_not_handed_over()
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

    def _check_not_handed_over(self) -> None:
        if self.successor is not None:
            raise SystemFault(f"this router handed over to pid {self.successor}; retry")

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
        async with self._apply_lock:  # one change at a time, and none during a hand-over
            self._check_not_handed_over()
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
        async with self._apply_lock:
            self._check_not_handed_over()
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
        pools = self.pool_stats()
        in_flight: dict[str, int] = {}
        for inst in self.instances.values():
            if inst.pool:
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

    def pool_stats(self) -> dict[str, Stats]:
        """Counters per pool: retired instances' remainders plus the live instances."""
        pools: dict[str, Stats] = {}
        for name, rest in self.remainders.items():
            pools.setdefault(name, Stats()).merge(rest)
        for inst in self.instances.values():
            if inst.pool:
                pools.setdefault(inst.pool, Stats()).merge(inst.stats)
        return pools

    def _adopt_stats(self, saved: Any) -> None:
        """Continue a predecessor's per-pool counters (they stay monotonic across a restart)."""
        if not isinstance(saved, dict):
            return
        for name, data in saved.items():
            with contextlib.suppress(TypeError, ValueError, KeyError):
                st = Stats()
                codes, hist = list(map(int, data["codes"])), list(map(int, data["hist"]))
                if len(codes) == len(st.codes) and len(hist) == len(st.hist):
                    st.codes, st.hist = codes, hist
                    st.dsum = float(data["sum"])
                    st.retries = int(data["retries"])
                    for kind in ERROR_KINDS:
                        st.errors[kind] = int(data["errors"].get(kind, 0))
                    self.pool_remainder(str(name)).merge(st)

    def restore(self) -> None:
        data = handover.read_handover()
        source = "the hand-over from the previous router"
        if data is not None:
            self._adopt_stats(data.pop("stats", None))
        elif self.state_path is None:
            return
        else:
            source = str(self.state_path)
            try:
                data = read_state(self.state_path)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        if data is None:
            return
        update = parse_route_table(data.get("table", {}), source=source)
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
        log.info("restored route table generation %d from %s", self.generation, source)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, sockets: list[socket.socket], admin_socket: socket.socket) -> None:
        from turnout.router.admin import AdminAPI

        self.restore()
        if self.state_path is not None and handover.read_handover() is not None:
            await self.persist()  # the hand-over is now this router's saved state
        self.listen_sockets = list(sockets)
        self.admin_socket = admin_socket
        for sock in sockets:
            server = await self.loop.create_server(
                partial(ClientConnection, self), sock=sock.dup(), backlog=1024
            )
            self.servers.append(server)
        self.admin_api = AdminAPI(self)
        await self._open_admin()
        self._ticker = self.loop.create_task(self._tick())

    async def _open_admin(self) -> None:
        assert self.admin_socket is not None
        self.admin_server = await asyncio.start_server(
            self.admin_api.handle, sock=self.admin_socket.dup(), limit=64 * 1024
        )

    async def restart(self, timeout: float) -> dict[str, Any]:
        """Hand the sockets and the live state to a new router process (see
        ``turnout.router.handover``); once it serves, this one drains and exits."""
        started = self.loop.time()
        async with self._apply_lock:  # no route change, drain or undrain meanwhile
            if self.closing or self.successor is not None:
                raise ConflictError("this router is already shutting down")
            assert self.admin_server is not None and self.admin_socket is not None
            # Admin connections now queue on the socket for the successor; requests on
            # connections already open here are answered 503 + retry (see AdminAPI).
            self.admin_server.close()
            self.admin_api.refuse("the router is restarting")
            state = {
                **self.snapshot(),
                "stats": {
                    name: {"codes": st.codes, "hist": st.hist, "sum": st.dsum,
                           "errors": st.errors, "retries": st.retries}
                    for name, st in self.pool_stats().items()
                },
            }  # fmt: skip
            socks = [("listen", s) for s in self.listen_sockets] + [("admin", self.admin_socket)]
            try:
                pid = await handover.start_successor(socks, state, timeout)
            except handover.SuccessorFailed as exc:
                await self._open_admin()
                self.admin_api.refuse(None)
                log.warning("restart failed, this router keeps serving: %s", exc.reason)
                raise SystemFault(
                    f"the new router did not start ({exc.reason}); "
                    f"this one (pid {os.getpid()}) keeps serving"
                ) from None
            self.successor = pid
            self.state_path = None  # the successor owns the saved state from now on
            self.admin_api.refuse(f"this router handed over to pid {pid}")
        log.info("handed over to pid %d: draining, then exiting", pid)
        self.request_shutdown()
        return {
            "pid": pid,
            "previous_pid": os.getpid(),
            "generation": self.generation,
            "took_ms": round((self.loop.time() - started) * 1000, 1),
        }

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
        for sock in self.listen_sockets:
            sock.close()  # refused from now on, unless a successor holds the socket too
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
        if self.admin_socket is not None:
            self.admin_socket.close()
        await self.persist()
        self.finished.set()


def listening_sockets(settings: RouterSettings) -> tuple[list[socket.socket], socket.socket]:
    """The client sockets and the admin socket: inherited ones (socket activation:
    from a predecessor, or systemd) where their address matches, bound otherwise."""
    inherited = sd.inherited()
    taken: list[socket.socket] = []

    def take(name: str, address: str, what: str) -> socket.socket:
        for i, (n, sock) in enumerate(inherited):
            if n == name and sd.same_address(sock, address):
                taken.append(inherited.pop(i)[1])
                return sock
        try:
            return sd.bind(address, defer_accept=False)
        except (SystemFault, UserError) as exc:
            for sock in taken:
                sock.close()
            raise type(exc)(f"{what}: {exc.message}") from None

    listen = [take("listen", a, "router.listen") for a in settings.listen]
    admin = take("admin", settings.admin, "router.admin")
    for name, sock in inherited:
        log.warning("closing an inherited %s socket no longer in the settings", name)
        sock.close()
    return listen, admin


async def serve(settings: RouterSettings, ready: asyncio.Event | None = None) -> Router:
    """Run a router until SIGTERM/SIGINT (or ``router.shutdown()``); returns it stopped."""
    sockets, admin_socket = listening_sockets(settings)
    router = Router(settings)
    try:
        await router.start(sockets, admin_socket)
    except BaseException:
        for sock in [*sockets, admin_socket]:
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
    sd.notify(f"READY=1\nMAINPID={os.getpid()}")  # to a predecessor or to systemd
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
