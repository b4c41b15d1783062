"""Real servers for tests: the demo app as a subprocess on loopback, and load runs.

Use the fixtures from any test module (import them into your conftest.py)::

    from support.apps import demo_app, demo_factory, load_runner  # noqa: F401

    def test_something(demo_factory, load_runner):
        v1 = demo_factory(release="v1")
        v2 = demo_factory("--error-rate", "0.05", release="v2")
        load = load_runner(LoadSpec(port=..., duration_s=5))
        ...
        report = load.stop()

Every process started here is stopped by PID at teardown (SIGKILL: nothing is left
to drain at that point); ``DemoProcess.terminate()`` sends SIGTERM when a test
wants the graceful drain itself.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import pytest

from support.system import free_port
from turnout.harness import LoadRunner, LoadSpec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "shop"
HOST = "127.0.0.1"

Wait = Literal["healthy", "listening", "none"]


@dataclass
class DemoProcess:
    """A demo app running in its own process on ``host:port``."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    release: str
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        """``host:port``, as the router's route table names an instance."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def terminate(self) -> None:
        """SIGTERM: the app starts draining (health 503), then stops."""
        if self.alive:
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the app dies at once, mid-request if need be."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Kill the process (if it still runs) and reap it."""
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self._log.close()


def _ready(host: str, port: int, wait: Wait) -> bool:
    try:
        if wait == "listening":
            with socket.create_connection((host, port), timeout=0.5):
                return True
        connection = http.client.HTTPConnection(host, port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except OSError:
        return False


def wait_until_ready(demo: DemoProcess, wait: Wait = "healthy", timeout: float = 15.0) -> None:
    """Poll until the app listens (or is healthy); fail with its output if it dies first."""
    deadline = time.monotonic() + timeout
    while not _ready(demo.host, demo.port, wait):
        if not demo.alive:
            raise RuntimeError(f"demo app exited with {demo.process.returncode}:\n{demo.output()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo app not {wait} after {timeout} s:\n{demo.output()}")
        time.sleep(0.02)


def start_demo(
    *args: str,
    release: str | None = "v1",
    port: int | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
    wait: Wait = "healthy",
    timeout: float = 15.0,
) -> DemoProcess:
    """Start the demo app (``python -m turnout.demo.app``, or ``script`` such as a
    release folder's app.py) on a free loopback port; returns once it is ``wait``.
    The caller must ``stop()`` it: prefer the ``demo_factory`` fixture."""
    port = free_port() if port is None else port
    command = [sys.executable, *([str(script)] if script else ["-m", "turnout.demo.app"])]
    command += ["--port", str(port), *(["--release", release] if release else []), *args]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=script.parent if script else None,
    )
    demo = DemoProcess(process, HOST, port, release or "", log)
    if wait != "none":
        try:
            wait_until_ready(demo, wait, timeout)
        except BaseException:
            demo.stop()
            raise
    return demo


@pytest.fixture
def demo_factory() -> Iterator[Callable[..., DemoProcess]]:
    """``demo_factory(*flags, release="v1", wait="healthy", ...)`` starts a demo app;
    all of them are killed at teardown."""
    started: list[DemoProcess] = []

    def factory(*args: str, **kwargs: object) -> DemoProcess:
        demo = start_demo(*args, **kwargs)  # type: ignore[arg-type]
        started.append(demo)
        return demo

    yield factory
    for demo in started:
        demo.stop()


@pytest.fixture
def demo_app(demo_factory: Callable[..., DemoProcess]) -> DemoProcess:
    """One healthy demo app, release v1."""
    return demo_factory(release="v1")


@pytest.fixture
def load_runner() -> Iterator[Callable[[LoadSpec], LoadRunner]]:
    """``load_runner(spec)`` starts a ``LoadRunner``; any still running is stopped at teardown."""
    runners: list[LoadRunner] = []

    def factory(spec: LoadSpec) -> LoadRunner:
        runner = LoadRunner(spec).start()
        runners.append(runner)
        return runner

    yield factory
    for runner in runners:
        with contextlib.suppress(Exception):
            runner.stop()
