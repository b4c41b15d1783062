"""Health checks through a shared listening socket that know who answered.

When two processes accept on one socket, a check may land on either. After a
check's response, the connection is still open: its server side is a socket in
exactly one process. ``/proc/net/tcp`` maps our client port to that socket's
inode, and ``/proc/<pid>/fd`` says which process holds it. Checks answered by the
old process are discarded; only the new process's answers count. Works for any
server, without app changes (Linux only).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from turnout.core.health import parse_status_ranges, status_expected


@dataclass(frozen=True)
class TcpEntry:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: int  # 1 = ESTABLISHED, 10 = LISTEN (include/net/tcp_states.h)
    inode: int
    rx_queue: int = 0  # unread bytes; for a listening socket, connections not yet accepted


def _address(hexed: str) -> tuple[str, int]:
    host_hex, port_hex = hexed.split(":")
    port = int(port_hex, 16)
    raw = bytes.fromhex(host_hex)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), port
    # IPv6: four 32-bit words, each in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), port


def parse_net_tcp(text: str) -> list[TcpEntry]:
    """The entries of ``/proc/net/tcp`` or ``/proc/net/tcp6``."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        rx = int(fields[4].split(":")[1], 16)
        out.append(
            TcpEntry(
                _address(fields[1]), _address(fields[2]), int(fields[3], 16), int(fields[9]), rx
            )
        )
    return out


def tcp_entries(proc: Path = Path("/proc")) -> Iterator[TcpEntry]:
    """Every TCP socket of this network namespace, IPv4 and IPv6."""
    for name in ("tcp", "tcp6"):
        try:
            text = (proc / "net" / name).read_text()
        except OSError:
            continue
        yield from parse_net_tcp(text)


def _socket_links(pid: int | str, proc: Path) -> Iterator[int]:
    """The inodes of the sockets process ``pid`` has file descriptors on."""
    folder = proc / str(pid) / "fd"
    try:
        fds = os.listdir(folder)
    except OSError:
        return
    for fd in fds:
        try:
            link = os.readlink(folder / fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            yield int(link[8:-1])


def server_inode(client_port: int, server_port: int, proc: Path = Path("/proc")) -> int | None:
    """The inode of the server-side socket of our connection from ``client_port``."""
    for e in tcp_entries(proc):
        if e.state == 1 and e.remote[1] == client_port and e.local[1] == server_port:
            return e.inode
    return None


def holder(inode: int, pids: set[int], proc: Path = Path("/proc")) -> int | None:
    """Which of ``pids`` has a file descriptor on socket ``inode``."""
    return next((pid for pid in pids if inode in _socket_links(pid, proc)), None)


def _held_elsewhere(inode: int, proc: Path = Path("/proc")) -> bool:
    """Whether any process holds socket ``inode`` (it was accepted)."""
    return any(
        inode in _socket_links(entry.name, proc)
        for entry in os.scandir(proc)
        if entry.name.isdigit()
    )


def socket_inodes(pids: set[int], proc: Path = Path("/proc")) -> set[int]:
    """The inodes of every socket ``pids`` hold a file descriptor on."""
    return {inode for pid in pids for inode in _socket_links(pid, proc)}


def held_connections(pids: set[int], ports: set[int], proc: Path = Path("/proc")) -> set[int]:
    """Inodes of the established connections to local ``ports`` that ``pids`` hold."""
    held = socket_inodes(pids, proc)
    return {
        e.inode
        for e in tcp_entries(proc)
        if e.state == 1 and e.local[1] in ports and e.inode in held
    }


@dataclass(frozen=True)
class Backlog:
    unread: int  # connections held by the processes with request bytes they have not read
    unaccepted: int  # connections waiting in the listening sockets' accept queues


def backlog(pids: set[int], ports: set[int], proc: Path = Path("/proc")) -> Backlog:
    """What a stopped process would drop if it shut down now: accepted connections whose
    request it has not read yet, and connections still queued on the shared sockets."""
    held = socket_inodes(pids, proc)
    unread = unaccepted = 0
    for e in tcp_entries(proc):
        if e.local[1] not in ports or not e.rx_queue:
            continue
        if e.state == 1 and e.inode in held:
            unread += 1
        elif e.state == 10:
            unaccepted += e.rx_queue
    return Backlog(unread, unaccepted)


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    answered_by: int | None  # the pid that answered (None: unknown)
    detail: str


def probe(
    address: tuple[str, int], path: str, expect: str, timeout: float, pids: set[int]
) -> ProbeResult:
    """One check through the shared socket; ``answered_by`` is the pid among ``pids``
    that served it, if any."""
    ranges = parse_status_ranges(expect)
    deadline = time.monotonic() + timeout
    owner = None
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            host = f"{address[0]}:{address[1]}"
            # Everything but the head's last CRLF: the server accepts the connection and
            # waits for the rest, so the socket is in its process while we look.
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: turnout-hotswap/1\r\n".encode()
            )
            client_port = sock.getsockname()[1]
            while owner is None and time.monotonic() < deadline:
                inode = server_inode(client_port, address[1])
                owner = holder(inode, pids) if inode is not None else None
                if owner is None:
                    if inode is not None and _held_elsewhere(inode):
                        break  # accepted by a process that is not one of ``pids``
                    time.sleep(0.005)
            sock.sendall(b"\r\n")
            data = b""
            while b"\r\n" not in data:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return ProbeResult(False, None, exc.strerror or type(exc).__name__)
    parts = data.split(b"\r\n", 1)[0].split(None, 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return ProbeResult(False, owner, "not an HTTP response")
    status = int(parts[1])
    return ProbeResult(status_expected(status, ranges), owner, f"status {status}")
