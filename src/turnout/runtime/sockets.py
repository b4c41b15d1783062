"""Listening sockets: created once, passed to child processes, inherited by them
(``turnout run`` hands them to each app generation; the router to its successor).

The systemd socket-activation protocol (sd_listen_fds(3)): the sockets are file
descriptors 3, 4, ... of the child; ``LISTEN_FDS`` says how many, ``LISTEN_PID``
which process they are for (the child itself, so a grandchild does not take
them), ``LISTEN_FDNAMES`` names them (colon-separated).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Mapping, Sequence

from turnout.core.routes import parse_address
from turnout.errors import SystemFault, UserError

SD_LISTEN_FDS_START = 3

# Run the command through sh so LISTEN_PID can be the pid that execs the server:
# "$$" in the shell is the pid the server keeps after ``exec``.
_EXEC_WITH_PID = 'LISTEN_PID=$$ exec "$0" "$@"'


def bind(address: str, backlog: int = 1024, *, defer_accept: bool = True) -> socket.socket:
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
    if defer_accept and hasattr(socket, "TCP_DEFER_ACCEPT"):
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


def same_address(sock: socket.socket, address: str) -> bool:
    """Whether the listening ``sock`` is bound to ``address`` (HOST:PORT, resolved)."""
    host, port = parse_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        bound = sock.getsockname()[:2]
    except OSError:
        return False
    return any(info[4][:2] == bound for info in infos)


def spawn_with_sockets(
    argv: Sequence[str], env: Mapping[str, str], socks: Sequence[tuple[str, socket.socket]]
) -> int:
    """Start ``argv`` in a new session with ``socks`` as its descriptors 3, 4, ... and the
    socket-activation variables naming them; its stdout/stderr are this process's.
    Returns the pid (the one that runs ``argv``: ``LISTEN_PID`` is set to it)."""
    # Duplicates above every target, close-on-exec: the child's dup2 puts each at its
    # place (clearing close-on-exec there) and nothing else leaks into it.
    temps = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 64) for _, s in socks]
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fd, SD_LISTEN_FDS_START + i) for i, fd in enumerate(temps)]
        full = child_argv(argv)
        return os.posix_spawn(
            full[0], full, child_env(env, [n for n, _ in socks]), file_actions=actions,
            setsid=True,
        )  # fmt: skip
    except OSError as exc:
        raise SystemFault(f"cannot start {argv[0]}: {exc.strerror}") from None
    finally:
        for fd in temps:
            os.close(fd)


# --- sd_notify(3): a started process tells the one that started it it is ready ----------


def _notify_address(value: str) -> str:
    return "\0" + value[1:] if value.startswith("@") else value


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``READY=1``) to ``NOTIFY_SOCKET``; False when there is none."""
    env = os.environ if env is None else env
    target = env.get("NOTIFY_SOCKET")
    if not target:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), _notify_address(target))
        except OSError:
            return False
    return True


class NotifyListener:
    """The receiving end of ``NOTIFY_SOCKET``: an abstract-namespace datagram socket."""

    def __init__(self, name: str) -> None:
        self.env_value = f"@{name}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(_notify_address(self.env_value))
        self.sock.setblocking(False)

    def messages(self) -> list[dict[str, str]]:
        """Every message received so far, as ``KEY=VALUE`` maps."""
        out: list[dict[str, str]] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            fields = {}
            for line in data.decode(errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    fields[key] = value
            out.append(fields)

    def close(self) -> None:
        self.sock.close()
