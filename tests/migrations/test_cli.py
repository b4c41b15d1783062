"""``turnout migrate`` through the real entry point: exit codes, formats, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

SAFE = (
    "SET lock_timeout = '2s';\nSET statement_timeout = '30s';\nALTER TABLE t ADD COLUMN a text;\n"
)
UNSAFE = "SET lock_timeout = '2s';\nSET statement_timeout = '30s';\nALTER TABLE t RENAME COLUMN a TO b;\n"


@pytest.fixture
def migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "0001_safe.sql").write_text(SAFE)
    (tmp_path / "0002_unsafe.sql").write_text(UNSAFE)
    return tmp_path


def test_clean_exits_0(migrations: Path, monkeypatch, capsys) -> None:
    result = run_cli(monkeypatch, capsys, "lint", "0001_safe.sql")
    assert (result.code, result.out.strip()) == (0, "no findings in 1 migration")


def test_findings_exit_1_with_location_rule_and_help(migrations: Path, monkeypatch, capsys) -> None:
    result = run_cli(monkeypatch, capsys, "lint", ".")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("0002_unsafe.sql:3:1: rename-column: renaming t.a to b")
    assert lines[1].startswith("  help: Expand:")
    assert lines[-1] == "1 finding in 2 migrations"


@pytest.mark.parametrize("fmt", ["json", "github", "sarif"])
def test_machine_formats(migrations: Path, monkeypatch, capsys, fmt: str) -> None:
    result = run_cli(monkeypatch, capsys, "lint", "0002_unsafe.sql", "--format", fmt)
    assert result.code == 1
    if fmt == "github":
        assert result.out.startswith(
            "::error file=0002_unsafe.sql,line=3,col=1,title=turnout rename-column::"
        )
    else:
        json.loads(result.out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["lint"],
            "error: nothing to check: give SQL files (or directories), --alembic DIR, or set "
            "path or alembic in the [migrations] table of turnout.toml",
        ),
        (["lint", "missing.sql"], "error: missing.sql: no such file or directory"),
        (
            ["lint", "0001_safe.sql", "--format", "xml"],
            "error: --format 'xml' is not one of text, json, github, sarif",
        ),
        (
            ["lint", "0001_safe.sql", "--pg-version", "7"],
            "error: --pg-version: 7 is not a PostgreSQL major version",
        ),
        (["lint", "broken.sql"], 'error: broken.sql:1:7: syntax error at or near "TAB"'),
        (
            ["plan", ".", "--current", "0001_saf"],
            "error: --current '0001_saf' is not one of the migrations; did you mean '0001_safe'?",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    migrations: Path, monkeypatch, capsys, args: list[str], message: str
) -> None:
    (migrations / "broken.sql").write_text("ALTER TAB TABEL t;\n")
    result = run_cli(monkeypatch, capsys, *args)
    assert result.code == 2
    assert result.err.startswith(message)
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_config_file_selects_rules_and_version(migrations: Path, monkeypatch, capsys) -> None:
    (migrations / "turnout.toml").write_text(
        '[migrations]\nrules = { disable = ["rename-column"] }\n'
    )
    assert run_cli(monkeypatch, capsys, "lint", "0002_unsafe.sql").code == 0
    (migrations / "0003_default.sql").write_text(
        SAFE.replace("ADD COLUMN a text", "ADD COLUMN c text DEFAULT 'x'")
    )
    assert run_cli(monkeypatch, capsys, "lint", "0003_default.sql").code == 0
    result = run_cli(monkeypatch, capsys, "lint", "0003_default.sql", "--pg-version", "10")
    assert result.code == 1 and "add-column-rewrite" in result.out


def test_bad_config_exits_2(migrations: Path, monkeypatch, capsys) -> None:
    (migrations / "turnout.toml").write_text("[migrations]\npostgres_version = 'fifteen'\n")
    result = run_cli(monkeypatch, capsys, "lint", "0001_safe.sql")
    assert result.code == 2
    assert result.err.startswith("error: turnout.toml [migrations]: postgres_version: 'fifteen'")


def test_plan_shows_pending_migrations_only(migrations: Path, monkeypatch, capsys) -> None:
    result = run_cli(monkeypatch, capsys, "plan", ".", "--current", "0001_safe")
    assert result.code == 0
    assert result.out.splitlines()[0] == "deploy 1 — contract"
    assert "  - 0001_safe" not in result.out and "  - 0002_unsafe" in result.out
    assert "gate: every running release must include 0001_safe" in result.out


def test_plan_and_lint_read_the_configured_folder(migrations: Path, monkeypatch, capsys) -> None:
    db = migrations / "db"
    db.mkdir()
    (migrations / "0002_unsafe.sql").rename(db / "0002_unsafe.sql")
    (migrations / "turnout.toml").write_text('[migrations]\npath = "db"\n')
    result = run_cli(monkeypatch, capsys, "plan")
    assert result.code == 0 and "  - 0002_unsafe (db/0002_unsafe.sql)" in result.out
    assert run_cli(monkeypatch, capsys, "lint").code == 1
    (migrations / "turnout.toml").write_text("[migrations]\n")
    result = run_cli(monkeypatch, capsys, "plan")
    assert result.code == 2 and "or set path or alembic in the [migrations] table" in result.err


def test_rules_lists_every_rule(monkeypatch, capsys) -> None:
    from turnout.core.migrations.rules import RULES

    result = run_cli(monkeypatch, capsys, "rules")
    assert [line.split()[0] for line in result.out.splitlines()] == [r.id for r in RULES]
