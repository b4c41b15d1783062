"""A turnout project in a temporary folder: turnout.toml on free ports, release
folders made from the bundled example shop, and the real CLI to drive it.

    def test_x(project):
        v1 = project.release("v1")
        project.up()
        assert project.turnout("deploy", str(v1)).returncode == 0

Teardown runs ``turnout down`` and then kills anything still carrying this
project's marker (instances, router, controller), so no test leaves an orphan.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.system import free_port

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples" / "shop"


@dataclass
class Project:
    root: Path
    listen: str
    admin: str
    api: str
    extra: str = ""
    instances: int = 2
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "turnout.toml"

    @property
    def state_dir(self) -> Path:
        return self.root / ".turnout"

    def write_config(self, extra: str | None = None, instances: int | None = None) -> None:
        if extra is not None:
            self.extra = extra
        if instances is not None:
            self.instances = instances
        self.config.write_text(
            f"""
[app]
name = "shop"
command = "{sys.executable} app.py --port {{port}} --drain-ms 300"
instances = {self.instances}
stop_timeout = "5s"

[health]
path = "/healthz"
interval = "100ms"
timeout = "1s"
rise = 2
fall = 2

[router]
listen = ["{self.listen}"]
admin = "{self.admin}"

[controller]
api = "{self.api}"

[deploy]
strategy = "bluegreen"
timeout = "20s"
drain_timeout = "10s"
keep_warm = "2m"
watch = "1s"
{self.extra}
"""
        )

    def release(self, base: str = "v1", name: str | None = None, **settings: Any) -> Path:
        """A release folder: a copy of examples/shop/<base> with release.toml settings."""
        folder = self.root / "builds" / (name or base)
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(SHOP / base, folder)
        toml = folder / "release.toml"
        lines = [
            line for line in toml.read_text().splitlines() if line and not line.startswith("#")
        ]
        keys = {line.split("=", 1)[0].strip(): line for line in lines}
        keys["version"] = f'version = "{name or base}"'
        for key, value in settings.items():
            keys[key] = (
                f"{key} = {json.dumps(value) if not isinstance(value, bool) else str(value).lower()}"
            )
        toml.write_text("\n".join(keys.values()) + "\n")
        return folder

    def turnout(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [sys.executable, "-m", "turnout", *args, "-c", str(self.config)],
            capture_output=True, text=True, timeout=timeout, cwd=self.root,
        )  # fmt: skip
        if check and out.returncode != 0:
            raise AssertionError(
                f"turnout {' '.join(args)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
            )
        return out

    def turnout_bg(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", *args, "-c", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.root,
        )  # fmt: skip
        self.started.append(proc)
        return proc

    def up(self) -> None:
        self.turnout("up", check=True)

    def status(self) -> dict[str, Any]:
        out = self.turnout("status", "--json", check=True)
        return dict(json.loads(out.stdout))

    def history(self) -> list[dict[str, Any]]:
        return list(json.loads(self.turnout("history", "--json", check=True).stdout)["deploys"])

    def api_call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        token = (self.state_dir / "token").read_text().strip()
        return httpx.request(
            method, f"http://{self.api}{path}", headers={"Authorization": f"Bearer {token}"},
            timeout=kw.pop("timeout", 60), **kw,
        )  # fmt: skip

    def wait_deploy_done(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                deploys = self.history()
                if deploys and deploys[0]["status"] not in ("running", "paused", "rolling_back"):
                    return deploys[0]
            time.sleep(0.2)
        raise TimeoutError(f"deploy not done after {timeout}s: {self.history()[:1]}")

    def controller_pid(self) -> int | None:
        try:
            return int(json.loads((self.state_dir / "run" / "controller.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def marked_pids(self) -> list[int]:
        """Every live process started for this project (by the marker in its environment)."""
        marker = f"TURNOUT_STATE_DIR={self.state_dir}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    stat = (entry / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(entry.name))
        return found

    def teardown(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
        with contextlib.suppress(Exception):
            self.turnout("down", timeout=60)
        for run in ("controller", "router"):
            with contextlib.suppress(OSError, ValueError, KeyError, ProcessLookupError):
                pid = int(json.loads((self.state_dir / "run" / f"{run}.json").read_text())["pid"])
                os.kill(pid, signal.SIGKILL)
        for pid in self.marked_pids():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path / "shop", f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}",
                f"127.0.0.1:{free_port()}")  # fmt: skip
    p.root.mkdir()
    p.write_config()
    yield p
    p.teardown()
