"""`turnout run` as a real subprocess serving the bundled demo app, for hot-swap tests.

Release folders hold only a ``release.toml`` (version, faults); the server reads it
through ``TURNOUT_DEMO_ARGS=--release-file release.toml`` relative to its working
folder, so a reload with another ``workdir`` runs another release.

``start_supervised`` returns once the supervisor itself answers ``status`` with a
serving generation, not when the app first answers ``/healthz``: the app answers
before the supervisor's own ``rise`` checks have passed, and a test that reloads at
once must find a supervisor that has finished starting.

gunicorn (>= 25.1) opens a control socket at one fixed path for every master
(``$XDG_RUNTIME_DIR`` or ``~/.gunicorn/gunicorn.ctl``); two generations side by side
take it from each other and the old one deletes it when it exits, so the tests run
gunicorn with ``--no-control-socket`` (as docs/hotswap.md advises).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.system import free_port
from turnout.errors import SystemFault
from turnout.hotswap.supervisor import request

BIN = Path(sys.executable).parent
SERVERS = {
    "uvicorn": [str(BIN / "uvicorn"), "turnout.demo.app:app", "--fd", "{fd}", "--no-access-log"],
    "gunicorn-sync": [
        str(BIN / "gunicorn"), "-w", "2", "-k", "sync", "--no-control-socket",
        "turnout.demo.app:wsgi_app",
    ],
    "gunicorn-gthread": [
        str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4",
        "--no-control-socket", "turnout.demo.app:wsgi_app",
    ],
}  # fmt: skip


def release_folder(root: Path, version: str, **settings: Any) -> Path:
    folder = root / version
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['name = "shop"', f'version = "{version}"']
    lines += [
        f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}"
        for k, v in settings.items()
    ]
    (folder / "release.toml").write_text("\n".join(lines) + "\n")
    return folder


@dataclass
class Supervised:
    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reload(
        self, workdir: Path | None = None, command: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        argv = [
            sys.executable,
            "-m",
            "turnout",
            "reload",
            "--state-dir",
            str(self.state_dir),
            "--json",
        ]
        if workdir is not None:
            argv += ["--workdir", str(workdir)]
        if command is not None:
            argv += ["--command", command]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        data = json.loads(out.stdout) if out.stdout.strip() else {"stderr": out.stderr}
        return out.returncode, data

    def output(self) -> str:
        return self.log.read_text(errors="replace") + (
            (self.state_dir / "app.log").read_text(errors="replace")
            if (self.state_dir / "app.log").exists() else ""
        )  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def launch_supervisor(tmp: Path, command: list[str], workdir: Path, **kw: Any) -> Supervised:
    """``turnout run -- command`` on a free port; returns at once (the caller stops it)."""
    port = free_port()
    state = tmp / f"run-{port}"
    log = tmp / f"run-{port}.log"
    argv = [
        sys.executable, "-m", "turnout", "run", "--listen", f"127.0.0.1:{port}",
        "--state-dir", str(state), "--workdir", str(workdir),
        "--drain-notice", kw.pop("drain_notice", "1s"),
        "--start-timeout", kw.pop("start_timeout", "8s"), "--", *command,
    ]  # fmt: skip
    env = {**os.environ, "TURNOUT_DEMO_ARGS": "--release-file release.toml"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Supervised(proc, port, state, log)


def start_supervised(tmp: Path, server: str, workdir: Path, **kw: Any) -> Supervised:
    sup = launch_supervisor(tmp, SERVERS[server], workdir, **kw)
    proc = sup.process
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"turnout run exited {proc.returncode}:\n{sup.output()}")
        if supervisor_serving(sup, deadline):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{sup.address}/healthz", timeout=1).status_code == 200:
                    return sup
        time.sleep(0.1)
    sup.stop()
    raise TimeoutError(f"turnout run not serving:\n{sup.output()}")


def supervisor_serving(sup: Supervised, deadline: float) -> bool:
    """The supervisor answers ``status`` on its control socket with a serving generation."""
    timeout = max(deadline - time.monotonic(), 0.1)
    try:
        status = request(sup.state_dir / "app.sock", {"cmd": "status"}, timeout=timeout)
    except SystemFault:  # no control socket yet (or no answer in time)
        return False
    return bool(status.get("ok")) and status.get("generation") is not None


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def factory(server: str, workdir: Path, **kw: Any) -> Supervised:
        sup = start_supervised(tmp_path, server, workdir, **kw)
        started.append(sup)
        return sup

    yield factory
    for sup in started:
        sup.stop()
