from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# corpus.py, lintcase.py and pgserver.py sit beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

from pgserver import PostgresServer, start_server

from support.system import free_port, require_program


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
