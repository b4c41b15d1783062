"""The local runtime: each instance is a process on this host, in a session of its own.

- **start**: ``spec.command`` is split like a shell would (``shlex``, no shell runs),
  ``{port}`` is replaced in every word, and the program runs in ``spec.workdir`` as
  the leader of a new session and process group. stdin is ``/dev/null``; stdout and
  stderr are appended to ``spec.log_path`` (a file, never a pipe, so the instance
  outlives the controller without a SIGPIPE). The environment is the controller's,
  plus ``spec.env``, plus ``PORT`` and two markers: ``TURNOUT_INSTANCE=<id>`` and
  ``TURNOUT_STATE_DIR=<absolute state dir>``.
- **identity**: a ``ProcessRef`` is the pid *and* the start time from
  ``/proc/<pid>/stat``; a pid now held by a process with another start time is
  "gone" (pid reuse), and nothing is ever signalled through a stale ref.
- **stop**: the stop signal goes to the whole process group (children included);
  after ``timeout`` seconds whatever is left of the group gets SIGKILL. Exit codes
  follow ``subprocess``: ``-N`` when killed by signal N. They are known only for
  processes this object started (it reaps them); an adopted instance's parent is
  init, so its code is ``None``.
- **find**: after a controller restart, the markers in ``/proc/<pid>/environ`` find
  every instance the state dir started (to re-adopt it, or to stop an orphan).

Linux only: it reads ``/proc`` (see :mod:`turnout.runtime.procfs`). Every method is
synchronous and safe to call from a thread executor.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from turnout.errors import SystemFault, UserError
from turnout.runtime import InstanceSpec, ProcessRef, ProcessState, procfs
from turnout.runtime.procfs import ProcStat

__all__ = [
    "INSTANCE_VAR",
    "STATE_DIR_VAR",
    "LocalRuntime",
    "command_argv",
    "instance_env",
    "instance_leaders",
    "signal_number",
]

INSTANCE_VAR = "TURNOUT_INSTANCE"
STATE_DIR_VAR = "TURNOUT_STATE_DIR"

_POLL_S = 0.02  # how often stop() looks at the group while it waits
_KILL_WAIT_S = 5.0  # after SIGKILL the kernel frees a process in milliseconds; 5 s means stuck


def command_argv(command: str, port: int) -> list[str]:
    """The argv for ``command``: shell-style words, ``{port}`` replaced in each."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise UserError(
            f"command {command!r}: {exc}; write a command line without a shell, "
            "such as 'python app.py --port {port}'"
        ) from None
    if not words:
        raise UserError(
            "command is empty; give a command line such as 'python app.py --port {port}'"
        )
    return [word.replace("{port}", str(port)) for word in words]


def instance_env(base: Mapping[str, str], spec: InstanceSpec, state_dir: Path) -> dict[str, str]:
    """The instance's environment: ``base``, then ``spec.env``, then PORT and the markers."""
    return {
        **base,
        **spec.env,
        "PORT": str(spec.port),
        INSTANCE_VAR: spec.id,
        STATE_DIR_VAR: str(state_dir),
    }


def signal_number(name: str) -> int:
    """The number of a signal named ``SIGTERM``, ``TERM`` or ``sigterm``."""
    key = name.strip().upper()
    key = key if key.startswith("SIG") else f"SIG{key}"
    try:
        return int(signal.Signals[key])
    except KeyError:
        raise UserError(
            f"stop signal {name!r} is not a signal; use a name such as SIGTERM, SIGINT, "
            "SIGQUIT or SIGHUP"
        ) from None


def instance_leaders(
    candidates: Iterable[tuple[ProcStat, Mapping[str, str]]], state_dir: str
) -> dict[str, ProcessRef]:
    """Each instance of ``state_dir`` and its leader, from processes and their environments.

    An instance's children inherit its markers; its leader is the one that leads its
    own session (``pid == sid``, as ``start`` made it), the oldest if several do.
    """
    leaders: dict[str, ProcStat] = {}
    for stat, env in candidates:
        instance = env.get(INSTANCE_VAR)
        if instance is None or env.get(STATE_DIR_VAR) != state_dir:
            continue
        if stat.dead or stat.pid != stat.sid:
            continue
        known = leaders.get(instance)
        if known is None or stat.start_ticks < known.start_ticks:
            leaders[instance] = stat
    return {i: ProcessRef(s.pid, s.start_ticks) for i, s in sorted(leaders.items())}


class LocalRuntime:
    """Instances as local processes; ``state_dir`` marks the ones this controller owns."""

    def __init__(self, state_dir: Path) -> None:
        if not sys.platform.startswith("linux"):
            raise SystemFault(f"the local runtime reads /proc and needs Linux, not {sys.platform}")
        self.state_dir = state_dir.resolve()
        self._children: dict[ProcessRef, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def start(self, spec: InstanceSpec) -> ProcessRef:
        """Start the instance in its own session and return at once (no health wait)."""
        argv = command_argv(spec.command, spec.port)
        signal_number(spec.stop_signal)  # a bad stop signal is found now, not at stop time
        if not spec.workdir.is_dir():
            raise UserError(
                f"instance {spec.id}: workdir {spec.workdir} is not an existing folder; "
                f"give the release folder to run {spec.command!r} in"
            )
        log = _open_log(spec)
        try:
            process = subprocess.Popen(
                argv,
                cwd=spec.workdir,
                env=instance_env(os.environ, spec, self.state_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise UserError(
                f"instance {spec.id}: cannot run {argv[0]!r} ({exc.strerror}) for command "
                f"{spec.command!r} in {spec.workdir}; give a program on PATH or a path "
                "relative to the release folder"
            ) from None
        finally:
            os.close(log)
        stat = procfs.read_stat(process.pid)
        if stat is None:  # cannot happen while the child is unreaped; fail loudly if it does
            process.kill()
            process.wait()
            raise SystemFault(f"instance {spec.id}: /proc/{process.pid}/stat is unreadable")
        ref = ProcessRef(process.pid, stat.start_ticks)
        with self._lock:
            self._children[ref] = process
        return ref

    def state(self, ref: ProcessRef) -> tuple[ProcessState, int | None]:
        """("running", None), ("exited", exit code if known) or ("gone", None)."""
        process = self._child(ref)
        if process is not None:
            code = process.poll()
            return ("running", None) if code is None else ("exited", code)
        stat = procfs.read_stat(ref.pid)
        if stat is None or stat.start_ticks != ref.start_ticks:
            return ("gone", None)
        if stat.dead:
            return ("exited", _reap(ref.pid))
        return ("running", None)

    def stop(self, ref: ProcessRef, stop_signal: str, timeout: float) -> int | None:
        """Signal the process group, wait up to ``timeout``, then SIGKILL what is left.

        Returns the leader's exit code when known. Stopping a process that is gone
        does nothing and returns ``None`` (or the code already collected).
        """
        signum = signal_number(stop_signal)
        if self._members(ref):
            _signal_group(ref.pid, signum)
            if not self._wait_empty(ref, timeout):
                _signal_group(ref.pid, signal.SIGKILL)
                if not self._wait_empty(ref, _KILL_WAIT_S):
                    left = [m.pid for m in self._members(ref)]
                    raise SystemFault(
                        f"process group {ref.pid} still has processes {left} {_KILL_WAIT_S:g} s "
                        "after SIGKILL; they are stuck in the kernel (see their /proc/<pid>/stack)"
                    )
        return self._collect(ref)

    def find(self, state_dir: Path) -> dict[str, ProcessRef]:
        """Every live instance that ``state_dir`` started, by instance id (see ``start``)."""
        candidates = []
        for pid in procfs.pids():
            stat = procfs.read_stat(pid)
            if stat is None or stat.pid != stat.sid:
                continue  # not a session leader: not an instance's first process
            env = procfs.read_environ(pid)
            if env is not None:
                candidates.append((stat, env))
        return instance_leaders(candidates, str(state_dir.resolve()))

    def _child(self, ref: ProcessRef) -> subprocess.Popen[bytes] | None:
        with self._lock:
            return self._children.get(ref)

    def _members(self, ref: ProcessRef) -> list[ProcStat]:
        """The live processes of the instance's group (the leader's children included).

        While the leader's pid is held (running or zombie), group ``ref.pid`` is ours:
        the kernel does not hand out a pid still used as a group id. Once the leader is
        reaped the number is free, so orphans are recognised by the state-dir marker.
        """
        if (process := self._child(ref)) is not None:
            process.poll()  # reap a dead leader, so its exit code is kept
        leader = procfs.read_stat(ref.pid)
        if leader is not None and leader.start_ticks != ref.start_ticks:
            return []  # the pid belongs to another process: our group is long empty
        members = [m for m in procfs.group_members(ref.pid) if m.start_ticks >= ref.start_ticks]
        if leader is None:
            members = [m for m in members if self._carries_marker(m.pid)]
        return members

    def _carries_marker(self, pid: int) -> bool:
        env = procfs.read_environ(pid)
        return env is not None and env.get(STATE_DIR_VAR) == str(self.state_dir)

    def _wait_empty(self, ref: ProcessRef, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._members(ref):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def _collect(self, ref: ProcessRef) -> int | None:
        """The exit code of a stopped leader; forgets our handle on it."""
        with self._lock:
            process = self._children.pop(ref, None)
        if process is not None:
            return process.poll()
        stat = procfs.read_stat(ref.pid)
        if stat is not None and stat.start_ticks == ref.start_ticks and stat.dead:
            return _reap(ref.pid)
        return None


def _open_log(spec: InstanceSpec) -> int:
    try:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        return os.open(spec.log_path, flags, 0o644)
    except OSError as exc:
        raise SystemFault(
            f"instance {spec.id}: cannot open log file {spec.log_path} ({exc.strerror}); "
            "give a writable path"
        ) from None


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # the group emptied in the meantime
    except PermissionError:
        raise SystemFault(
            f"not allowed to signal process group {pgid}; run the controller as the user "
            "that started the instance"
        ) from None


def _reap(pid: int) -> int | None:
    """Reap ``pid`` if it is an exited child of this process: its exit code, else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None  # not our child: its parent (init, after a restart) reaps it
    return os.waitstatus_to_exitcode(status) if done == pid else None
