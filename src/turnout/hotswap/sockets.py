"""Listening sockets: created once, passed to child processes, inherited by them.

The systemd socket-activation protocol (sd_listen_fds(3)): the sockets are file
descriptors 3, 4, ... of the child; ``LISTEN_FDS`` says how many, ``LISTEN_PID``
which process they are for (the child itself, so a grandchild does not take
them), ``LISTEN_FDNAMES`` names them (colon-separated).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence

from turnout.core.routes import parse_address
from turnout.errors import SystemFault, UserError

SD_LISTEN_FDS_START = 3

# Run the command through sh so LISTEN_PID can be the pid that execs the server:
# "$$" in the shell is the pid the server keeps after ``exec``.
_EXEC_WITH_PID = 'LISTEN_PID=$$ exec "$0" "$@"'


def bind(address: str, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``HOST:PORT`` (non-blocking, SO_REUSEADDR)."""
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"{address}: cannot resolve {host!r} ({exc.strerror})") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it on Linux: servers that take a bare fd (uvicorn --fd)
    # do not always set it themselves, and Nagle + delayed ACK costs 40 ms a response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(socket, "TCP_DEFER_ACCEPT"):
        # accept() only returns once the client's request has arrived: a server that
        # stops gracefully (and closes connections that have no request yet, as
        # uvicorn does) never holds a connection whose request is still on the way.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
    try:
        sock.bind(sockaddr)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise SystemFault(f"cannot listen on {address}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def child_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped so the child's ``LISTEN_PID`` is its own pid."""
    return ["/bin/sh", "-c", _EXEC_WITH_PID, *argv]


def child_env(base: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("LISTEN_")}
    env["LISTEN_FDS"] = str(len(names))
    env["LISTEN_FDNAMES"] = ":".join(names)
    return env


def remap(fds: Sequence[int]) -> None:
    """In the child (between fork and exec): put ``fds`` at 3, 4, ... and keep them open
    across exec. Two passes, so a source fd that is also a target is not lost."""
    temps = [os.dup(fd) for fd in fds]
    for i, tmp in enumerate(temps):
        target = SD_LISTEN_FDS_START + i
        os.dup2(tmp, target, inheritable=True)
        os.close(tmp)


def inherited(env: Mapping[str, str] | None = None) -> list[tuple[str, socket.socket]]:
    """Sockets passed to this process with the socket-activation protocol, with their
    names; empty when none were (or they were meant for another process)."""
    env = os.environ if env is None else env
    try:
        count = int(env.get("LISTEN_FDS", "0"))
        pid = int(env.get("LISTEN_PID", "0"))
    except ValueError:
        return []
    if count <= 0 or pid != os.getpid():
        return []
    names = env.get("LISTEN_FDNAMES", "").split(":")
    out = []
    for i in range(count):
        fd = SD_LISTEN_FDS_START + i
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        os.set_inheritable(fd, False)
        out.append((names[i] if i < len(names) else f"fd{fd}", sock))
    return out


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
