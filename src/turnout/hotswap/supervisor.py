"""``turnout run``: own the listening sockets, run the app on them, swap it in place.

One supervisor process per app. It binds the sockets once and keeps them open for
its whole life, so a connection is never refused: between processes, the kernel
queues connections on the socket. Each generation of the app gets the sockets as
file descriptors 3, 4, ... (``LISTEN_FDS``/``LISTEN_PID``/``LISTEN_FDNAMES``, and
``{fd}`` in the command).

A reload (``turnout reload``, or SIGHUP) runs the new generation beside the old,
waits until the new one itself passes ``rise`` health checks through the shared
socket (``probe`` tells who answered), then drains the old one: it creates the
old generation's drain file (``TURNOUT_DRAIN_FILE``; the ``turnout.app``
middleware then fails its health check and answers ``Connection: close``), waits
``drain_notice`` and, up to ``drain_linger`` more, until the connections it held at
the notice have been closed by their clients, sends the server's graceful stop
signal, waits ``drain_timeout`` for it to exit, and kills its process group if it
has not. A new generation that exits or never becomes healthy is stopped and the
old one keeps serving.

A generation that dies on its own is restarted (backoff 1, 2, 4 ... 30 s).

The control socket is open before generation 1 starts, so whoever sees the app
answer can reach it: a command sent while generation 1 is starting is answered once
the start is over (a reload then swaps, after a failed start it is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout.core.durations import parse_duration
from turnout.core.routes import parse_address
from turnout.errors import SystemFault, TurnoutError, UserError
from turnout.hotswap import probe as probes
from turnout.hotswap import servers
from turnout.runtime.procfs import descendants
from turnout.runtime.sockets import SD_LISTEN_FDS_START, bind, child_argv, child_env

log = logging.getLogger("turnout.run")
FREEZE = 0.2  # seconds the old generation is stopped before its graceful stop
SETTLE_ROUNDS = 50  # then at most this many 10-20 ms rounds until it has nothing unread


@dataclass
class RunSettings:
    listen: list[str]
    command: list[str]
    workdir: Path
    name: str = "app"
    state_dir: Path = Path(".turnout/run")
    health_path: str = "/healthz"
    expect: str = "200-399"
    rise: int = 2
    check_interval: float = 0.2
    check_timeout: float = 1.0
    start_timeout: float = 30.0
    drain_notice: float = 1.0
    drain_linger: float = 5.0  # then connections open since the notice are closed anyway
    drain_timeout: float = 30.0
    stop_signal: str | None = None  # None: the server's own (servers.KNOWN)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def control_path(self) -> Path:
        return self.state_dir / f"{self.name}.sock"


@dataclass
class Generation:
    number: int
    popen: subprocess.Popen[bytes]
    workdir: Path
    command: list[str]
    drain_file: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pids(self) -> set[int]:
        return descendants(self.pid) if self.alive() else set()


class SwapFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def place_sockets(socks: list[socket.socket]) -> list[int]:
    """Move the listening sockets to descriptors 3, 4, ... of this process (before any
    event loop opens its own), so every child inherits them at the same numbers."""
    fds = []
    for i, sock in enumerate(socks):
        target = SD_LISTEN_FDS_START + i
        if sock.fileno() != target:
            with contextlib.suppress(OSError):
                fcntl.fcntl(target, fcntl.F_GETFD)
                raise SystemFault(f"file descriptor {target} is in use; cannot pass sockets")
            os.dup2(sock.fileno(), target, inheritable=False)
            sock.close()
        fds.append(target)
    return fds


class Supervisor:
    def __init__(self, settings: RunSettings, fds: list[int]) -> None:
        self.s = settings
        self.fds = fds
        self.address = parse_address(settings.listen[0])
        self.server = servers.check(settings.command)
        self.stop_signal = settings.stop_signal or self.server.stop_signal
        self.current: Generation | None = None
        self.counter = 0
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()  # generation 1's start is over, well or not
        self.start_failure: str | None = None
        self.clients: set[asyncio.Task[Any]] = set()  # control connections being answered
        self.log_path = settings.state_dir / f"{settings.name}.log"

    # --- generations ----------------------------------------------------------------------

    def spawn(self, workdir: Path, command: list[str]) -> Generation:
        self.counter += 1
        n = self.counter
        drain_file = self.s.state_dir / f"{self.s.name}.drain.{n}"
        drain_file.unlink(missing_ok=True)
        argv = servers.substitute(command, self.fds)
        names = ["http" if i == 0 else f"http{i}" for i in range(len(self.fds))]
        env = child_env({**os.environ, **self.s.env}, names)
        env["TURNOUT_DRAIN_FILE"] = str(drain_file)
        env["TURNOUT_GENERATION"] = str(n)
        with open(self.log_path, "ab") as out:
            try:
                popen = subprocess.Popen(
                    child_argv(argv), cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, pass_fds=self.fds,
                    start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                raise SwapFailed(f"cannot start {argv[0]}: {exc.strerror}") from None
        log.info("generation %d started: pid %d in %s", n, popen.pid, workdir)
        return Generation(n, popen, workdir, list(command), drain_file)

    async def wait_healthy(self, gen: Generation) -> float:
        """Seconds until ``gen`` itself passed ``rise`` checks; SwapFailed otherwise."""
        passes = 0
        last = "no check answered by it yet"
        loop = asyncio.get_running_loop()
        while True:
            if self.stopping.is_set():
                raise SwapFailed(f"turnout run is stopping; generation {gen.number} not started")
            if not gen.alive():
                code = gen.popen.returncode
                raise SwapFailed(f"generation {gen.number} exited with code {code}: {self.tail()}")
            if time.monotonic() - gen.started > self.s.start_timeout:
                raise SwapFailed(
                    f"generation {gen.number} not healthy within {self.s.start_timeout:g}s ({last})"
                )
            result = await loop.run_in_executor(
                None, probes.probe, self.address, self.s.health_path, self.s.expect,
                self.s.check_timeout, gen.pids(),
            )  # fmt: skip
            if result.answered_by is not None:  # answered by the new generation itself
                last = result.detail
                passes = passes + 1 if result.passed else 0
                if passes >= self.s.rise:
                    return time.monotonic() - gen.started
                await asyncio.sleep(self.s.check_interval)
            else:
                await asyncio.sleep(0.02)  # the old generation answered: ask again

    async def retire(self, gen: Generation) -> float:
        """Drain and stop ``gen``; seconds it took."""
        start = time.monotonic()
        gen.drain_file.touch()
        # Responses that began before the notice went out without `Connection: close`;
        # their clients may send one more request on the same connection. Keep the old
        # generation serving until the connections it held at the notice are closed by
        # their clients (each next response says `Connection: close`), or drain_linger.
        loop = asyncio.get_running_loop()
        ports = {parse_address(a)[1] for a in self.s.listen}
        before = await loop.run_in_executor(None, probes.held_connections, gen.pids(), ports)
        await asyncio.sleep(self.s.drain_notice)
        linger_end = time.monotonic() + self.s.drain_linger
        while before and time.monotonic() < linger_end:
            now = await loop.run_in_executor(None, probes.held_connections, gen.pids(), ports)
            before &= now
            if before:
                await asyncio.sleep(0.05)
        if before:
            log.info(
                "generation %d: %d connection(s) still open after drain_linger %gs",
                gen.number, len(before), self.s.drain_linger,
            )  # fmt: skip
        sig = servers_signal(self.stop_signal)
        # Freeze the old generation before it is told to stop: while it is stopped the
        # kernel hands every new connection on the shared socket to the new one, so
        # when it resumes to shut down it holds no connection whose request it has
        # not read yet (servers close those on a graceful stop). Requests it is
        # working on only pause for FREEZE seconds.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gen.pid, signal.SIGSTOP)
            await asyncio.sleep(FREEZE)
            await self._settle(gen, ports)
            os.kill(gen.pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gen.pid, signal.SIGCONT)
        deadline = time.monotonic() + self.s.drain_timeout
        while gen.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if gen.alive():
            log.warning(
                "generation %d still running after %gs: SIGKILL", gen.number, self.s.drain_timeout
            )
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gen.pid, signal.SIGKILL)  # whatever is left of its process group
        gen.popen.wait()
        gen.drain_file.unlink(missing_ok=True)
        log.info("generation %d stopped (code %s)", gen.number, gen.popen.returncode)
        return time.monotonic() - start

    async def _settle(self, gen: Generation, ports: set[int]) -> None:
        """With ``gen`` stopped, make sure a graceful stop would drop nothing: a server
        closes the connections it accepted but has not read a request from yet (the
        stop may have caught it between accept and read), so let it run briefly until
        it has read them; and let the new generation empty the accept queue."""
        loop = asyncio.get_running_loop()
        for _ in range(SETTLE_ROUNDS):
            left = await loop.run_in_executor(None, probes.backlog, gen.pids(), ports)
            if not left.unread and not left.unaccepted:
                return
            if left.unread:
                os.killpg(gen.pid, signal.SIGCONT)
                await asyncio.sleep(0.01)
                os.killpg(gen.pid, signal.SIGSTOP)
            await asyncio.sleep(0.01)
        log.info("generation %d: stopping with %s", gen.number, left)

    async def kill(self, gen: Generation) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gen.pid, signal.SIGTERM)
        for _ in range(100):
            if not gen.alive():
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gen.pid, signal.SIGKILL)
        gen.popen.wait()
        gen.drain_file.unlink(missing_ok=True)

    def tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    # --- operations -----------------------------------------------------------------------

    async def start(self) -> None:
        gen = self.spawn(self.s.workdir, self.s.command)
        try:
            await self.wait_healthy(gen)
        except SwapFailed:
            await self.kill(gen)
            raise
        self.current = gen

    async def reload(
        self, workdir: Path | None = None, command: list[str] | None = None
    ) -> dict[str, Any]:
        async with self.lock:
            old = self.current
            wd = workdir or (old.workdir if old else self.s.workdir)
            cmd = command or (old.command if old else self.s.command)
            started = time.monotonic()
            try:
                new = self.spawn(wd, cmd)
            except SwapFailed as exc:
                return {"ok": False, "reason": exc.reason}
            try:
                ready = await self.wait_healthy(new)
            except SwapFailed as exc:
                await self.kill(new)
                log.warning("reload refused: %s; generation %s keeps serving", exc.reason,
                            old.number if old else "none")  # fmt: skip
                return {"ok": False, "reason": exc.reason, "serving": old.number if old else None}
            self.current = new
            drained = await self.retire(old) if old is not None else 0.0
            return {
                "ok": True, "generation": new.number, "pid": new.pid, "ready_s": round(ready, 3),
                "drain_s": round(drained, 3), "total_s": round(time.monotonic() - started, 3),
            }  # fmt: skip

    async def watch(self) -> None:
        """Restart a generation that died on its own (not during a reload)."""
        backoff = 1.0
        while not self.stopping.is_set():
            await asyncio.sleep(0.2)
            gen = self.current
            if gen is None or gen.alive() or self.lock.locked():
                continue
            log.warning("generation %d exited with %s: restarting in %gs", gen.number,
                        gen.popen.returncode, backoff)  # fmt: skip
            await asyncio.sleep(backoff)
            result = await self.reload()
            backoff = 1.0 if result["ok"] else min(backoff * 2, 30.0)

    async def serve_control(self) -> asyncio.AbstractServer:
        path = self.s.control_path
        path.unlink(missing_ok=True)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.clients.add(task)
            try:
                await answer_client(reader, writer)
            finally:
                self.clients.discard(task)

        async def answer_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await reader.readline()
                request = json.loads(line or b"{}")
                cmd = request.get("cmd")
                await self.started.wait()
                if self.start_failure is not None:
                    answer = {"ok": False, "reason": f"the app did not start: {self.start_failure}"}
                elif cmd == "reload":
                    wd = Path(request["workdir"]) if request.get("workdir") else None
                    answer = await self.reload(wd, request.get("command"))
                elif cmd == "status":
                    gen = self.current
                    answer = {"ok": True, "generation": gen.number if gen else None,
                              "pid": gen.pid if gen else None,
                              "workdir": str(gen.workdir) if gen else None,
                              "listen": self.s.listen}  # fmt: skip
                else:
                    answer = {
                        "ok": False,
                        "reason": f"unknown command {cmd!r}; use reload or status",
                    }
            except (ValueError, KeyError) as exc:
                answer = {"ok": False, "reason": f"bad request: {exc}"}
            writer.write((json.dumps(answer) + "\n").encode())
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()

        return await asyncio.start_unix_server(handle, path=str(path))

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        # Before generation 1 starts: a client that sees the app answer can reach the
        # control socket, and a stop during the start ends the start (no orphan).
        control = await self.serve_control()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        try:
            await self.start()
        except SwapFailed as exc:
            log.error("the app did not start: %s", exc.reason)
            print(f"error: the app did not start: {exc.reason}", file=sys.stderr)
            self.start_failure = exc.reason
            self.started.set()
            await self._close_control(control, answered_within=1.0)
            return 1
        self.started.set()
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._sighup()))
        watcher = loop.create_task(self.watch())
        assert self.current is not None
        log.info(
            "serving %s with generation 1 (pid %d)", ", ".join(self.s.listen), self.current.pid
        )
        await self.stopping.wait()
        watcher.cancel()
        await self._close_control(control)
        async with self.lock:
            if self.current is not None:
                await self.retire(self.current)
        return 0

    def _on_stop_signal(self, sig: int) -> None:
        # Which signal, so that an unexpected stop says what stopped it (the sender's
        # pid is not available to an event loop's signal handler).
        log.info("received %s (signal %d): stopping", signal.Signals(sig).name, sig)
        self.stopping.set()

    async def _close_control(
        self, control: asyncio.AbstractServer, answered_within: float = 0
    ) -> None:
        """Stop accepting commands; give the connections being answered up to
        ``answered_within`` seconds to get their answer."""
        control.close()
        self.s.control_path.unlink(missing_ok=True)
        if self.clients and answered_within > 0:
            await asyncio.wait(set(self.clients), timeout=answered_within)

    async def _sighup(self) -> None:
        log.info("received SIGHUP (signal %d): reload", signal.SIGHUP)
        result = await self.reload()
        log.info("SIGHUP reload: %s", result)


def servers_signal(name: str) -> int:
    try:
        return int(
            getattr(
                signal, name.upper() if name.upper().startswith("SIG") else f"SIG{name.upper()}"
            )
        )
    except AttributeError:
        raise UserError(f"unknown signal {name!r}; e.g. SIGTERM, SIGQUIT, SIGINT") from None


def duration(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UserError(f"{flag}: {exc}") from None


def run(settings: RunSettings) -> int:
    """The ``turnout run`` process: bind, start, supervise until SIGTERM/SIGINT."""
    import uvloop

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s turnout run: %(message)s"
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if not settings.workdir.is_dir():
        raise UserError(f"working folder {settings.workdir} does not exist")
    servers.check(settings.command)
    servers_signal(settings.stop_signal or "SIGTERM")
    socks = [bind(a) for a in settings.listen]
    fds = place_sockets(socks)
    supervisor = Supervisor(settings, fds)
    try:
        return uvloop.run(supervisor.run())
    except TurnoutError:
        raise


def request(control: Path, message: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    """Send one command to a running supervisor's control socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(control))
            sock.sendall((json.dumps(message) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise SystemFault(f"no `turnout run` is listening on {control}") from None
    except OSError as exc:
        raise SystemFault(f"{control}: {exc.strerror or exc}") from None
    try:
        return dict(json.loads(data))
    except ValueError:
        raise SystemFault(f"{control}: not a turnout run control socket") from None
