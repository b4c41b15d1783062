"""Test helpers for the local runtime: a runtime that remembers what it started, and
a teardown kill that never hits a reused pid."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

from turnout.runtime import InstanceSpec, ProcessRef
from turnout.runtime.local import LocalRuntime
from turnout.runtime.procfs import group_members, pids, read_environ, read_stat

SpecFactory = Callable[..., InstanceSpec]


class TrackedRuntime(LocalRuntime):
    """A LocalRuntime that remembers what it started, for teardown."""

    def __init__(self, state_dir: Path, cleanup: list[ProcessRef]) -> None:
        super().__init__(state_dir)
        self._cleanup = cleanup

    def start(self, spec: InstanceSpec) -> ProcessRef:
        ref = super().start(spec)
        self._cleanup.append(ref)
        return ref


def kill_group(ref: ProcessRef) -> None:
    """SIGKILL the ref's leader and every process of its group that started with or after it."""
    leader = read_stat(ref.pid)
    if leader is not None and leader.start_ticks != ref.start_ticks:
        return
    members = {m.pid for m in group_members(ref.pid) if m.start_ticks >= ref.start_ticks}
    for pid in members | ({ref.pid} if leader is not None else set()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_marked(under: Path) -> None:
    """SIGKILL every process whose TURNOUT_STATE_DIR lies under ``under``: whatever a
    broken runtime may have left outside its group (or without a group of its own)."""
    prefix = f"{under}/"
    for pid in pids():
        env = read_environ(pid)
        if env is not None and env.get("TURNOUT_STATE_DIR", "").startswith(prefix):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
