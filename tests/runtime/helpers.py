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
from turnout.runtime.procfs import group_members, read_stat

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
    """SIGKILL every process of the ref's group that started with or after it."""
    leader = read_stat(ref.pid)
    if leader is not None and leader.start_ticks != ref.start_ticks:
        return
    for member in group_members(ref.pid):
        if member.start_ticks >= ref.start_ticks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, signal.SIGKILL)
