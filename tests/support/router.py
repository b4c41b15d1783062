"""The turnout router as a real subprocess on free loopback ports, with an admin client.

A test takes the ``router`` fixture (a started router), sets a table with
``router.put_routes({...})`` and sends requests to ``router.url("/")``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from support.system import free_port

HOST = "127.0.0.1"


@dataclass
class RouterProcess:
    process: subprocess.Popen[bytes]
    port: int
    admin_port: int
    state_dir: Path
    token: str | None
    args: list[str]
    _log: IO[bytes] = field(repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def admin_address(self) -> str:
        return f"{HOST}:{self.admin_port}"

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def admin_url(self, path: str) -> str:
        return f"http://{HOST}:{self.admin_port}{path}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self._headers(), **kw.pop("headers", {})}
        return httpx.request(
            method, self.admin_url(path), headers=headers, timeout=kw.pop("timeout", 30), **kw
        )

    def put_routes(self, table: dict[str, Any], **params: str) -> int:
        """Set the table; returns its generation (raises on any non-200)."""
        r = self.admin("PUT", "/v1/routes", json=table, params=params)
        assert r.status_code == 200, r.text
        return int(r.json()["generation"])

    def routes(self) -> dict[str, Any]:
        return dict(self.admin("GET", "/v1/routes").json())

    def instances(self) -> dict[str, dict[str, Any]]:
        data = self.admin("GET", "/v1/instances").json()
        return {i["address"]: i for i in data["instances"]}

    def metrics(self) -> str:
        return self.admin("GET", "/metrics").text

    def wait_routable(self, *addresses: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            inst = self.instances()
            if all(inst.get(a, {}).get("routable") for a in addresses):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not routable after {timeout}s: {inst}")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful), then SIGKILL after ``timeout``; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def wait_admin(r: RouterProcess, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not r.alive:
            raise RuntimeError(f"router exited with {r.process.returncode}:\n{r.output()}")
        try:
            if httpx.get(r.admin_url("/v1/health"), timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"router admin not up after {timeout}s:\n{r.output()}")
        time.sleep(0.03)


def start_router(
    state_dir: Path,
    *args: str,
    token: str | None = None,
    port: int | None = None,
    admin_port: int | None = None,
    config: Path | None = None,
    wait: bool = True,
) -> RouterProcess:
    port = port or free_port()
    admin_port = admin_port or free_port()
    argv = [
        sys.executable, "-m", "turnout", "router",
        "--listen", f"{HOST}:{port}", "--admin", f"{HOST}:{admin_port}",
        "--state-dir", str(state_dir), *args,
    ]  # fmt: skip
    if token:
        token_file = state_dir.parent / f"token-{admin_port}"
        token_file.write_text(token)
        argv += ["--token-file", str(token_file)]
    if config:
        argv += ["-c", str(config)]
    log = tempfile.TemporaryFile()
    env = {k: v for k, v in os.environ.items() if k != "TURNOUT_ROUTER_TOKEN"}
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
    )
    r = RouterProcess(proc, port, admin_port, state_dir, token, argv, log)
    if wait:
        try:
            wait_admin(r)
        except BaseException:
            r.kill()
            raise
    return r


@pytest.fixture
def router_factory(tmp_path: Path) -> Iterator[Callable[..., RouterProcess]]:
    started: list[RouterProcess] = []

    def factory(*args: str, state_dir: Path | None = None, **kw: Any) -> RouterProcess:
        sd = state_dir or tmp_path / f"router-{len(started)}"
        r = start_router(sd, *args, **kw)
        started.append(r)
        return r

    yield factory
    for r in started:
        r.kill()


@pytest.fixture
def router(router_factory: Callable[..., RouterProcess]) -> RouterProcess:
    return router_factory()


def one_pool(*addresses: str, name: str = "v1", **pool: Any) -> dict[str, Any]:
    return {"pools": {name: {"instances": list(addresses), **pool}}, "weights": {name: 100}}
