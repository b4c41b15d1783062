"""A throwaway PostgreSQL server for tests: initdb into a temporary directory, start on
a free loopback port with its socket in that directory, stop by PID. The fixtures
``postgres_server`` (one per session) and ``database`` (a fresh one per test) are
shared by tests/migrations and tests/flags (import them into a conftest).

initdb and postgres refuse to run as root; as root the server runs as the
``postgres`` user (or ``nobody``) through ``setpriv``, which execs in place so the
PID we hold is the postmaster's.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from support.system import free_port, require_program


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True, **kwargs)  # type: ignore[arg-type]

    def major_version(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None
        return int(row[0]) // 10000

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--",
        ]
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


def _owner() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return user.pw_uid, user.pw_gid
    return None


def start_server(postgres: str, port: int) -> PostgresServer:
    """Start a server from the directory holding the ``postgres`` program."""
    bindir = Path(postgres).resolve().parent
    owner = _owner()
    base = tempfile.gettempdir()
    if owner and not os.stat(base).st_mode & 0o001:  # the server user could not enter it
        base = "/tmp"
    root = Path(tempfile.mkdtemp(prefix="turnout-pg-", dir=base))
    if owner:
        os.chown(root, *owner)
    prefix = _run_as()
    data = root / "data"
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
         "--no-sync", "-E", "UTF8", "--locale=C"],
        check=True,
        capture_output=True,
        cwd=root,
    )  # fmt: skip
    log = open(root / "server.log", "wb")
    process = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
         "-c", "full_page_writes=off", "-c", "max_connections=50"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )  # fmt: skip
    server = PostgresServer(bindir, root, port, process)
    _wait_ready(server)
    return server


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            log = (server.root / "server.log").read_text(errors="replace")
            raise RuntimeError(f"postgres exited during start:\n{log}")
        try:
            with server.connect(connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test works in its own database."""
    require_program("initdb")
    server = start_server(require_program("postgres"), free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database; its name."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with postgres_server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with postgres_server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
