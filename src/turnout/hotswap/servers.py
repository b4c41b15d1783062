"""What each known server needs to run on inherited sockets and to stop gracefully.

| server | sockets | graceful stop |
|---|---|---|
| gunicorn | ``LISTEN_FDS`` (systemd protocol) | SIGTERM: stop accepting, finish requests |
| uvicorn | ``--fd {fd}`` (one socket) | SIGTERM: stop accepting, finish requests |
| hypercorn | ``--bind fd://{fd}`` | SIGTERM |
| anything systemd-aware | ``LISTEN_FDS`` | SIGTERM unless configured |

A command naming a server that takes a file descriptor argument but without a
``{fd}`` placeholder is refused with the flag it needs.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.errors import UserError


@dataclass(frozen=True)
class Server:
    name: str
    needs_fd_argument: str | None  # e.g. "--fd {fd}"; None: the systemd protocol is enough
    stop_signal: str = "SIGTERM"


KNOWN = {
    "gunicorn": Server("gunicorn", None),
    "uvicorn": Server("uvicorn", "--fd {fd}"),
    "hypercorn": Server("hypercorn", "--bind fd://{fd}"),
}
GENERIC = Server("generic", None)


def identify(argv: Sequence[str]) -> Server:
    """The server a command runs (``python -m uvicorn ...`` counts as uvicorn)."""
    words = [os.path.basename(a) for a in argv[:3]]
    if len(words) >= 3 and words[0].startswith("python") and words[1] == "-m":
        words = [words[2]]
    return KNOWN.get(words[0], GENERIC) if words else GENERIC


def check(argv: Sequence[str]) -> Server:
    server = identify(argv)
    if server.needs_fd_argument and not any("{fd}" in a for a in argv):
        raise UserError(
            f"{server.name} takes its socket as an argument: add `{server.needs_fd_argument}` "
            f"to the command (turnout replaces {{fd}} with the inherited socket)"
        )
    return server


def substitute(argv: Sequence[str], fds: Sequence[int]) -> list[str]:
    """``{fd}`` is the first inherited socket's descriptor, ``{fd1}``... the others."""
    mapping = {"{fd}": str(fds[0])} if fds else {}
    mapping.update({f"{{fd{i}}}": str(fd) for i, fd in enumerate(fds)})
    out = []
    for arg in argv:
        replaced = arg
        for key, value in mapping.items():
            replaced = replaced.replace(key, value)
        out.append(replaced)
    return out


def split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise UserError(f"command: {exc}") from None
