"""Finding system programs and free ports for tests.

A test that needs a program (nginx, haproxy, wrk, postgres, ...) calls
``require_program``: when the program is missing the test is skipped with the
reason, except under ``TURNOUT_REQUIRE_SYSTEM=1`` (set by ``.ci/run``), where it
fails instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

_EXTRA_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/lib/postgresql/15/bin")
# Debian keeps each PostgreSQL major's server programs off PATH; newest first.
_POSTGRES_DIRS = tuple(
    str(d)
    for d in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda d: float(d.parent.name) if d.parent.name.replace(".", "").isdigit() else 0,
        reverse=True,
    )
)


def system_required() -> bool:
    return os.environ.get("TURNOUT_REQUIRE_SYSTEM") == "1"


def find_program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in _EXTRA_DIRS + _POSTGRES_DIRS:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def require_program(name: str) -> str:
    """Path of ``name``, or skip (locally) / fail (CI) the calling test."""
    path = find_program(name)
    if path is None:
        reason = f"{name} is not installed (make test installs it as root with apt-get)"
        if system_required():
            pytest.fail(f"TURNOUT_REQUIRE_SYSTEM=1: {reason}")
        pytest.skip(reason)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
