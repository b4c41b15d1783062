"""Reading processes from Linux's ``/proc``: what the local runtime needs to know.

Two pure parsers (``parse_stat``, ``parse_environ``) and thin readers around them.
A reader answers ``None`` when the process is gone or unreadable (another user's
process, a kernel thread), never raises for that: a scan of ``/proc`` races with
processes that come and go.

Linux only (``proc(5)``): the start time in field 22 of ``/proc/<pid>/stat`` is
what tells a process from a later one that reuses its pid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcStat",
    "descendants",
    "group_members",
    "parse_environ",
    "parse_stat",
    "pids",
    "read_environ",
    "read_stat",
]

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the runtime uses (proc(5) numbering)."""

    pid: int  # field 1
    state: str  # field 3: R running, S sleeping, D disk, Z zombie, T stopped, X dead, ...
    ppid: int  # field 4: parent
    pgid: int  # field 5: process group
    sid: int  # field 6: session
    start_ticks: int  # field 22: start time after boot, in clock ticks

    @property
    def dead(self) -> bool:
        """A zombie (exited, not reaped yet) or dying process: it runs no code any more."""
        return self.state in ("Z", "X", "x")


def parse_stat(text: str) -> ProcStat:
    """Parse one ``/proc/<pid>/stat`` line.

    Field 2 is the command name in parentheses and may itself hold spaces and
    parentheses, so the fields after it are counted from the *last* ``)``.
    """
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()  # fields[0] is field 3
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        start_ticks=int(fields[19]),
    )


def parse_environ(data: bytes) -> dict[str, str]:
    """Parse ``/proc/<pid>/environ`` (NUL-separated ``NAME=value``) into a dict.

    Entries without ``=`` are skipped; undecodable bytes are kept as surrogates,
    the way ``os.environ`` does.
    """
    env: dict[str, str] = {}
    for entry in data.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            env[os.fsdecode(name)] = os.fsdecode(value)
    return env


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat, or ``None`` when no process has this pid (or it is unreadable)."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def read_environ(pid: int) -> dict[str, str] | None:
    """The environment the process was started with, or ``None`` if it cannot be read.

    It is empty for zombies and kernel threads, and for an instant during ``exec``
    (before the kernel has laid out the new program's stack).
    """
    try:
        return parse_environ((PROC / str(pid) / "environ").read_bytes())
    except OSError:
        return None


def pids() -> Iterator[int]:
    """The pids in ``/proc`` at the time of the call (some may be gone when read)."""
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            yield int(entry.name)


def descendants(root: int) -> set[int]:
    """``root`` and every live process below it (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for pid in pids():
        stat = read_stat(pid)
        if stat is not None and not stat.dead:
            children.setdefault(stat.ppid, []).append(pid)
    found = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def group_members(pgid: int) -> list[ProcStat]:
    """Every process of group ``pgid`` that still runs code (zombies excluded)."""
    members = []
    for pid in pids():
        stat = read_stat(pid)
        if stat is not None and stat.pgid == pgid and not stat.dead:
            members.append(stat)
    return members
