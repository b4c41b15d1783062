"""Put a mix of traffic on a target while something happens, and count every failure.

Two ways to run a ``LoadSpec``:

- inside an event loop: ``report = await run_load(spec, stop=event)``;
- from synchronous code (a test): ``LoadRunner(spec)`` runs the load in a thread
  with its own uvloop event loop::

      with LoadRunner(spec) as load:
          load.wait_for_ok(50)       # traffic is flowing
          ...                        # deploy, switch weights, kill -9 an instance
      assert load.report.failed == 0

Stopping lets requests in flight finish (bounded by ``drain_timeout_s``); the
ones still running then are cut off and counted as timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from turnout.harness.accounting import Client, Kind, Outcome, Stage
from turnout.harness.http1 import Exchange, HttpConnection, connect, connect_failure
from turnout.harness.report import Report, build_report
from turnout.harness.requests import (
    GetRequests,
    PostRequests,
    Prepared,
    SlowRequests,
    StreamRequests,
    with_header,
)
from turnout.harness.spec import LoadSpec
from turnout.harness.websocket import WebSocketClient, require_websockets

__all__ = ["LoadRunner", "Progress", "Run", "run_load"]


@dataclass(frozen=True)
class Progress:
    """Counts so far; readable from any thread."""

    sent: int
    ok: int
    failed: int
    elapsed_s: float


class _Pacer:
    """Spaces the requests of one client kind to ``rate`` per second, all clients together."""

    def __init__(self, rate: float, loop: asyncio.AbstractEventLoop) -> None:
        self._interval = 1 / rate
        self._loop = loop
        self._next = loop.time()

    async def wait(self) -> None:
        now = self._loop.time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Users:
    """Simulated users for the GET clients (``LoadSpec.users``): each has a cookie jar.
    A client acts for one user for ``requests_per_user`` requests in a row (a visit),
    then takes the next user; after the last one the first comes back, cookies kept."""

    def __init__(self, count: int, per_user: int) -> None:
        self.count = count
        self.per_user = per_user
        self.jars: list[dict[str, str]] = [{} for _ in range(count)]
        self._next = 0

    def take(self) -> int:
        user, self._next = self._next, (self._next + 1) % self.count
        return user

    def cookie_line(self, user: int) -> str | None:
        jar = self.jars[user]
        return "Cookie: " + "; ".join(f"{k}={v}" for k, v in jar.items()) if jar else None

    def keep(self, user: int, set_cookies: list[bytes]) -> None:
        for raw in set_cookies:
            pair = raw.decode("latin-1").split(";", 1)[0]
            name, sep, value = pair.partition("=")
            if sep and name.strip():
                self.jars[user][name.strip()] = value.strip()


class Run:
    """The state one run's clients share: clock, budget, pacers, outcomes."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        self.started_at = datetime.now(UTC)
        self._t0 = time.perf_counter()  # uvloop's loop.time() only has 1 ms resolution
        self.outcomes: list[Outcome] = []
        self.stopping = False
        self.ok = 0
        self.failed = 0
        self._budget = spec.max_requests
        self.users = Users(spec.users, spec.requests_per_user) if spec.users else None
        self.cohort_header = spec.cohort_header.lower().encode() if spec.cohort_header else None
        self._pacers = {
            kind: _Pacer(clients.rate, self.loop)
            for kind, clients in spec.mix.clients().items()
            if clients.rate is not None
        }

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def take(self) -> bool:
        """Claim one request from the budget; False once the run is stopping or spent."""
        if self.stopping:
            return False
        if self._budget is not None:
            if self._budget <= 0:
                return False
            self._budget -= 1
        return True

    def give_back(self) -> None:
        if self._budget is not None:
            self._budget += 1

    async def next_turn(self, client: Client) -> bool:
        """Claim a request and wait for its slot under the kind's rate limit."""
        if not self.take():
            return False
        pacer = self._pacers.get(client)
        if pacer is not None:
            await pacer.wait()
        return not self.stopping

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if outcome.kind is Kind.OK:
            self.ok += 1
        else:
            self.failed += 1

    async def pause_after_failure(self) -> None:
        # Keeps a client from spinning on a dead target and flooding the report.
        if self.spec.failure_pause_s:
            await asyncio.sleep(self.spec.failure_pause_s)

    def progress(self) -> Progress:
        return Progress(self.ok + self.failed, self.ok, self.failed, self.now())


class _RequestSource(Protocol):
    def next(self) -> Prepared: ...


class HttpClient:
    """One simulated HTTP client: sends requests one after another, on one kept-alive
    connection (``persistent``) or on a new connection each time."""

    def __init__(self, run: Run, client: Client, source: _RequestSource, persistent: bool) -> None:
        self.run = run
        self.client = client
        self.source = source
        self.persistent = persistent
        self.busy = False
        self._connection: HttpConnection | None = None
        self._users = run.users if client in (Client.KEEPALIVE, Client.NEWCONN) else None
        self._user: int | None = None
        self._visit_left = 0

    async def loop(self) -> None:
        try:
            while await self.run.next_turn(self.client):
                self.busy = True
                outcome = await self._one()
                self.busy = False
                self.run.record(outcome)
                if not outcome.ok:
                    await self.run.pause_after_failure()
        finally:
            if self._connection is not None:
                self._connection.close()

    async def _one(self) -> Outcome:
        run, spec = self.run, self.run.spec
        prepared = self.source.next()
        data, user = prepared.data, None
        if self._users is not None:
            if self._visit_left <= 0:
                self._user, self._visit_left = self._users.take(), self._users.per_user
            self._visit_left -= 1
            user = self._user
            assert user is not None
            cookie = self._users.cookie_line(user)
            if cookie is not None:
                data = with_header(data, cookie)
        start = run.now()
        connection = self._connection
        if connection is None or not connection.reusable:
            try:
                connection = await connect(spec.host, spec.port, spec.connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                kind, stage, detail = connect_failure(exc)
                return Outcome(
                    self.client, kind, start, run.now(), stage=stage, detail=detail, user=user
                )
            self._connection = connection
        exchange = Exchange(prepared.check, cohort_header=run.cohort_header)
        if user is not None:
            exchange.cookies = []
        try:
            await connection.send(data, exchange, prepared.timeout)
        except asyncio.CancelledError:
            connection.abort()
            raise
        if not self.persistent or not connection.reusable:
            connection.close()
            self._connection = None
        if user is not None and exchange.cookies and self._users is not None:
            self._users.keep(user, exchange.cookies)
        return Outcome(
            self.client,
            exchange.kind or Kind.PROTOCOL,
            start,
            run.now(),
            exchange.release,
            exchange.status,
            exchange.stage,
            exchange.converted,
            exchange.detail,
            user,
            exchange.cohort,
        )

    def cut_off(self) -> Outcome | None:
        return cut_off(self.run, self.client, self.busy)


def cut_off(run: Run, client: Client, busy: bool) -> Outcome | None:
    """The outcome of a request cut off by the end of the run, if one was in flight."""
    if not busy:
        return None
    now = run.now()
    detail = "still in flight when the run stopped"
    return Outcome(client, Kind.TIMEOUT, now, now, stage=Stage.BODY, detail=detail)


class _Worker(Protocol):
    busy: bool

    async def loop(self) -> None: ...

    def cut_off(self) -> Outcome | None: ...


def _http_clients(run: Run) -> list[HttpClient]:
    spec, mix = run.spec, run.spec.mix
    authority, headers, timeout = spec.authority, spec.headers, spec.request_timeout_s
    rng = random.Random(spec.seed)
    key_prefix = f"turnout-{rng.getrandbits(48):012x}"
    made: list[HttpClient] = []
    for _ in range(mix.keepalive.concurrency):
        source = GetRequests(mix.keepalive.path, authority, headers, timeout, close=False)
        made.append(HttpClient(run, Client.KEEPALIVE, source, persistent=True))
    for _ in range(mix.newconn.concurrency):
        source = GetRequests(mix.newconn.path, authority, headers, timeout, close=True)
        made.append(HttpClient(run, Client.NEWCONN, source, persistent=False))
    for i in range(mix.post.concurrency):
        posts = PostRequests(mix.post, authority, headers, timeout, f"{key_prefix}-{i}")
        made.append(HttpClient(run, Client.POST, posts, persistent=True))
    for i in range(mix.slow.concurrency):
        slow = SlowRequests(mix.slow, authority, headers, timeout, random.Random(spec.seed + i))
        made.append(HttpClient(run, Client.SLOW, slow, persistent=True))
    for _ in range(mix.stream.concurrency):
        stream = StreamRequests(mix.stream, authority, headers, timeout)
        made.append(HttpClient(run, Client.STREAM, stream, persistent=True))
    return made


async def _wait_stop(
    run: Run, stop: asyncio.Event | None, workers: asyncio.Future[list[BaseException | None]]
) -> None:
    waits: list[asyncio.Future[Any]] = [workers]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, timeout=run.spec.time_limit_s, return_when="FIRST_COMPLETED")
    finally:
        for waiting in waits[1:]:
            waiting.cancel()


async def run_load(
    spec: LoadSpec,
    *,
    stop: asyncio.Event | None = None,
    on_start: Callable[[Run], None] | None = None,
) -> Report:
    """Run ``spec`` until its duration or budget is spent or ``stop`` is set; the report."""
    if spec.mix.websocket.concurrency:
        require_websockets()
    run = Run(spec)
    http = _http_clients(run)
    sockets = [
        WebSocketClient(run, spec.mix.websocket, i) for i in range(spec.mix.websocket.concurrency)
    ]
    workers: list[_Worker] = [*http, *sockets]
    tasks = [asyncio.create_task(w.loop()) for w in workers]
    everything = asyncio.gather(*tasks, return_exceptions=True)
    if on_start is not None:
        on_start(run)
    await _wait_stop(run, stop, everything)
    run.stopping = True
    window = run.now()
    for worker, task in zip(workers, tasks, strict=True):
        if not worker.busy:
            task.cancel()  # idle: waiting for a rate-limit slot or pausing
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(everything), spec.drain_timeout_s)
    for worker in workers:
        cut = worker.cut_off()
        if cut is not None:
            run.record(cut)
    for task in tasks:
        task.cancel()
    results = await everything
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise errors[0]
    return build_report(spec, run.outcomes, run.started_at, window, run.now())


class LoadRunner:
    """Runs a ``LoadSpec`` in a background thread with its own event loop (uvloop)."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._run: Run | None = None
        self._started = threading.Event()
        self._report: Report | None = None
        self._error: BaseException | None = None

    def start(self) -> Self:
        """Start the load; returns once every client has been started."""
        if self._thread is not None:
            raise RuntimeError("this LoadRunner was already started")
        self._thread = threading.Thread(target=self._main, name="turnout-load", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> Report:
        """Stop sending, let requests in flight finish (bounded), and return the report."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just finished by itself
                self._loop.call_soon_threadsafe(self._stop.set)
        return self.wait()

    def wait(self, timeout: float | None = None) -> Report:
        """Wait for the run to end by itself (duration or max_requests); the report."""
        if self._thread is None:
            raise RuntimeError("the LoadRunner was not started")
        if timeout is None:
            timeout = self.spec.time_limit_s + self.spec.drain_timeout_s + 30
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the load run did not end within {timeout:.1f} s")
        if self._error is not None:
            raise self._error
        return self.report

    @property
    def report(self) -> Report:
        """The report of a finished run."""
        if self._report is None:
            raise RuntimeError("the run has not finished: call stop() or wait() first")
        return self._report

    def progress(self) -> Progress:
        run = self._run
        return run.progress() if run is not None else Progress(0, 0, 0, 0.0)

    def wait_for_ok(self, count: int, timeout: float = 10.0) -> Progress:
        """Block until ``count`` requests succeeded; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            progress = self.progress()
            if progress.ok >= count:
                return progress
            if time.monotonic() > deadline or (self._thread and not self._thread.is_alive()):
                raise TimeoutError(
                    f"{progress.ok} of {count} requests succeeded in {timeout} s "
                    f"({progress.failed} failed)"
                )
            time.sleep(0.01)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _main(self) -> None:
        loop = _new_loop()
        self._loop = loop
        try:
            self._report = loop.run_until_complete(self._async_main())
        except BaseException as exc:  # handed to the thread that calls stop() or wait()
            self._error = exc
        finally:
            self._started.set()
            loop.close()

    async def _async_main(self) -> Report:
        self._stop = asyncio.Event()

        def started(run: Run) -> None:
            self._run = run
            self._started.set()

        return await run_load(self.spec, stop=self._stop, on_start=started)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
