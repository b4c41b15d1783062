"""The router's own restart: hand the listening sockets and the live state to a new
router process, without refusing a connection or losing a request.

The old router (``Router.restart``) stops taking admin requests, writes its state
(route table, generation, instance states, per-pool counters) to a hand-over file,
and starts its successor — the same command line, so an upgraded turnout takes
over — with the listening sockets and the admin socket as inherited descriptors
(``LISTEN_FDS``, as systemd passes them). The successor restores the state, starts
serving and says ``READY=1`` on ``NOTIFY_SOCKET`` (sd_notify). Only then does the
old router stop accepting: until that moment both share the sockets, and the
kernel queues connections for whichever accepts next. The old router answers what
it has in flight (each connection's next response carries ``Connection: close``)
and exits. A successor that exits or is not ready in time is killed and the old
router carries on, its admin API reopened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from itertools import count
from pathlib import Path
from typing import Any

from turnout.runtime.sockets import NotifyListener, spawn_with_sockets

HANDOVER_ENV = "TURNOUT_ROUTER_HANDOVER"
_serial = count(1)


class SuccessorFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def own_command() -> list[str]:
    """The command line that started this router, to start its successor with."""
    return [sys.executable, *sys.orig_argv[1:]]


def write_handover(state: dict[str, Any]) -> Path:
    fd, name = tempfile.mkstemp(prefix="turnout-router-handover-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    return Path(name)


def read_handover(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The state a predecessor handed to this process, if it was started as a successor."""
    env = os.environ if env is None else env
    path = env.get(HANDOVER_ENV)
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


async def start_successor(
    socks: Sequence[tuple[str, socket.socket]],
    state: dict[str, Any],
    timeout: float,
    argv: Sequence[str] | None = None,
) -> int:
    """Start the successor on ``socks`` with ``state``; its pid once it said READY=1.
    Raises ``SuccessorFailed`` (after killing it) if it exits or is not ready in time."""
    listener = NotifyListener(f"turnout-router-{os.getpid()}-{next(_serial)}")
    handover = write_handover(state)
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", HANDOVER_ENV)}
    env["NOTIFY_SOCKET"] = listener.env_value
    env[HANDOVER_ENV] = str(handover)
    try:
        try:
            pid = spawn_with_sockets(argv or own_command(), env, socks)
        except Exception as exc:
            raise SuccessorFailed(str(exc)) from None
        status_line = ""
        deadline = time.monotonic() + timeout
        while True:
            for message in listener.messages():
                status_line = message.get("STATUS", status_line)
                if message.get("READY") == "1":
                    return pid
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                why = _exit_reason(status)
                raise SuccessorFailed(f"{why}: {status_line}" if status_line else why)
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise SuccessorFailed(f"not ready within {timeout:g}s")
            await asyncio.sleep(0.01)
    finally:
        listener.close()
        handover.unlink(missing_ok=True)
