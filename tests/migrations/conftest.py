from __future__ import annotations

import sys
from pathlib import Path

# corpus.py and lintcase.py sit beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# The PostgreSQL test server lives in tests/support/postgres.py (shared with tests/flags).
from support.postgres import PostgresServer, database, postgres_server, start_server  # noqa: F401
