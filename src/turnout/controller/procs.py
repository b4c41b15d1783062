"""The router and controller processes started by ``turnout up``: started detached,
recorded by pid and start time, found again, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: when the process started (identifies it across pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def alive(pid: int, ticks: int | None) -> bool:
    if ticks is None:
        return False
    if start_ticks(pid) != ticks:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def spawn(name: str, argv: list[str], run_dir: Path, log_path: Path) -> int:
    """Start ``argv`` detached (own session), output to ``log_path``; record its pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    record(name, proc.pid, run_dir)
    return proc.pid


def record(name: str, pid: int, run_dir: Path) -> None:
    """Record ``pid`` as the process ``name`` (e.g. a router that took over)."""
    ticks = None
    for _ in range(100):
        ticks = start_ticks(pid)
        if ticks is not None:
            break
        time.sleep(0.01)
    (run_dir / f"{name}.json").write_text(json.dumps({"pid": pid, "ticks": ticks}))


def running(name: str, run_dir: Path) -> int | None:
    """The pid of ``name`` if the recorded process is still the one running."""
    try:
        data = json.loads((run_dir / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    pid = int(data.get("pid", 0))
    return pid if pid and alive(pid, data.get("ticks")) else None


def stop(name: str, run_dir: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL after ``timeout``; True if one was running."""
    pid = running(name, run_dir)
    if pid is None:
        return False
    ticks = start_ticks(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid, ticks):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
        _reap(pid)
    (run_dir / f"{name}.json").unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
