"""Runtimes run a release's instances. The local runtime (processes on this host)
is the embedded default; Kubernetes and others implement the same small interface.

The engine only ever talks to ``Runtime``; tests use the real local runtime with
the bundled example app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["InstanceSpec", "ProcessRef", "ProcessState", "Runtime"]

ProcessState = Literal["running", "exited", "gone"]


@dataclass(frozen=True)
class InstanceSpec:
    """Everything needed to start one instance of a release."""

    id: str  # stable and unique, e.g. "shop-3f2a9c1e0b12-a1b2c3"
    release: str  # the release id (digest prefix) it runs
    workdir: Path  # the release folder; the command runs here
    command: str  # shell-free command line with an optional {port} placeholder
    port: int  # the port it must listen on (also exported as PORT)
    log_path: Path  # stdout and stderr go here (appended)
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 10.0


@dataclass(frozen=True)
class ProcessRef:
    """Identifies one process across time: a pid alone may be reused."""

    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22 (start time since boot, in clock ticks)


class Runtime(Protocol):
    def start(self, spec: InstanceSpec) -> ProcessRef:
        """Start the instance in its own process group and return at once (no health wait)."""
        ...

    def state(self, ref: ProcessRef) -> tuple[ProcessState, int | None]:
        """("running", None), ("exited", exit code if known) or ("gone", None)."""
        ...

    def stop(self, ref: ProcessRef, stop_signal: str, timeout: float) -> int | None:
        """Signal the group, wait up to ``timeout``, then SIGKILL; the exit code if known."""
        ...

    def find(self, state_dir: Path) -> dict[str, ProcessRef]:
        """Every live process this state dir started, by instance id (for re-adoption and
        orphan cleanup after a controller restart)."""
        ...
