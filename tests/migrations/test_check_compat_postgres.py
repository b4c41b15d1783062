"""check-compat against a real server: the previous release's queries after the migrations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

pytestmark = [pytest.mark.system, pytest.mark.slow]

SCHEMA = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);\n"
QUERIES = (
    "SELECT id, name FROM users WHERE id = $1;\n"
    "SELECT id, email FROM users WHERE email LIKE '%@example.com';\n"
    "INSERT INTO users (id, name, email) VALUES ($1, $2, $3);\n"
    "INSERT INTO users (id, email) VALUES ($1, $2);\n"
    "UPDATE users SET email = $1 WHERE id = $2;\n"
    "SHOW server_version;\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "queries.sql").write_text(QUERIES)
    (tmp_path / "0001_expand.sql").write_text("ALTER TABLE users ADD COLUMN full_name text;\n")
    (tmp_path / "0002_tenant.sql").write_text("ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;\n"
                                              "ALTER TABLE users ALTER COLUMN tenant_id DROP DEFAULT;\n")  # fmt: skip
    (tmp_path / "0003_contract.sql").write_text(
        "-- turnout: phase=contract\nALTER TABLE users DROP COLUMN name;\n"
    )
    return tmp_path


def _databases(server) -> set[str]:
    with server.connect() as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_reports_each_query_the_old_release_would_fail(
    project: Path, postgres_server, monkeypatch, capsys
) -> None:
    before = _databases(postgres_server)
    result = run_cli(
        monkeypatch, capsys, "check-compat", "0001_expand.sql", "0002_tenant.sql", "0003_contract.sql",
        "--queries", "queries.sql", "--schema", "schema.sql", "--scratch", postgres_server.dsn(),
        "--format", "json",
    )  # fmt: skip
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert [(f["origin"], f["migration"], f["sqlstate"]) for f in doc["failures"]] == [
        ("queries.sql:3", "0002_tenant", "23502"),
        ("queries.sql:1", "0003_contract", "42703"),
    ]
    assert "users.tenant_id, NOT NULL without a default" in doc["failures"][0]["error"]
    assert doc["failures"][1]["error"] == 'column "name" does not exist'
    assert [f["origin"] for f in doc["failing_before"]] == ["queries.sql:4"]  # omits NOT NULL name
    assert doc["skipped"] == ["queries.sql:6"]
    assert doc["queries"] == 5
    assert _databases(postgres_server) == before  # the scratch database is gone


def test_nothing_breaks_exits_0(project: Path, postgres_server, monkeypatch, capsys) -> None:
    result = run_cli(
        monkeypatch, capsys, "check-compat", "0001_expand.sql", "--queries", "queries.sql",
        "--schema", "schema.sql", "--scratch", postgres_server.dsn(),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "every query of the previous release still prepares"


def test_schema_from_a_live_database_and_pg_stat_statements(
    project: Path, postgres_server, database, monkeypatch, capsys
) -> None:
    with postgres_server.connect(database) as conn:
        conn.execute(SCHEMA)
    (project / "pgss.csv").write_text('query,calls\n"SELECT name FROM users WHERE id = $1",12\n')
    result = run_cli(
        monkeypatch, capsys, "check-compat", "0003_contract.sql", "--queries", "pgss.csv",
        "--schema-from", postgres_server.dsn(database),
    )  # fmt: skip
    assert result.code == 1, result.err
    assert 'pgss.csv row 2: fails after 0003_contract: column "name" does not exist' in result.out


def test_alembic_pending_revisions(project: Path, postgres_server, monkeypatch, capsys) -> None:
    sample = Path(__file__).parent / "alembic_sample"
    (project / "accounts.sql").write_text(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);\n"
    )
    (project / "old.sql").write_text(
        "SELECT id, name FROM accounts WHERE name = $1;\nINSERT INTO accounts (id, name) VALUES ($1, $2);\n"
    )
    result = run_cli(
        monkeypatch, capsys, "check-compat", "--alembic", str(sample), "--current", "0001",
        "--queries", "old.sql", "--schema", "accounts.sql", "--scratch", postgres_server.dsn(),
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("checked 2 queries from old.sql")


def test_schema_that_does_not_load_is_an_input_error(
    project: Path, postgres_server, monkeypatch, capsys
) -> None:
    (project / "bad_schema.sql").write_text("CREATE TABLE t (id bigint REFERENCES missing (id));\n")
    result = run_cli(
        monkeypatch, capsys, "check-compat", "0001_expand.sql", "--queries", "queries.sql",
        "--schema", "bad_schema.sql", "--scratch", postgres_server.dsn(),
    )  # fmt: skip
    assert result.code == 2
    assert result.err.startswith(
        'error: the schema does not load into a scratch database: relation "missing" does not exist'
    )
