"""Acceptance 3: an Alembic project with three revisions, the middle one unsafe: turnout
reports the middle revision's file and the line of the operation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from turnout.core.migrations.lint import lint_migrations
from turnout.core.migrations.settings import LintSettings
from turnout.errors import UserError
from turnout.migrations.alembic import alembic_revisions

SAMPLE = Path(__file__).parent / "alembic_sample"
MIDDLE = SAMPLE / "versions" / "0002_index_account_names.py"


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_each_revision_is_rendered_separately() -> None:
    revisions = alembic_revisions(SAMPLE)
    assert [(r.id, r.down) for r in revisions] == [
        ("0001", ()),
        ("0002", ("0001",)),
        ("0003", ("0002",)),
    ]
    for rev in revisions:
        assert rev.source.sql.count("BEGIN;") >= 1
        assert "Running upgrade" in rev.source.sql
    assert "CREATE TABLE accounts" in revisions[0].source.sql
    assert "CREATE TABLE accounts" not in revisions[1].source.sql


def test_cli_reports_the_middle_revision_file_and_line(monkeypatch, capsys) -> None:
    result = run_cli(monkeypatch, capsys, "lint", "--alembic", str(SAMPLE), "--format", "json")
    assert result.code == 1
    findings = json.loads(result.out)["findings"]
    assert [(Path(f["path"]).resolve(), f["line"], f["rule"]) for f in findings] == [
        (MIDDLE.resolve(), _line_of(MIDDLE, "op.create_index("), "create-index-concurrently")
    ]
    assert findings[0]["column"] == 5


def test_autocommit_block_is_understood(tmp_path: Path) -> None:
    # 0003 builds its index CONCURRENTLY inside autocommit_block(): no finding.
    results = lint_migrations([r.source for r in alembic_revisions(SAMPLE)], LintSettings())
    assert [r.source.id for r in results if r.findings] == ["0002"]


def test_python_comment_suppresses_the_op(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project)
    middle = project / "versions" / MIDDLE.name
    text = middle.read_text().replace(
        '    op.create_index("accounts_name_idx"',
        "    # turnout: allow create-index-concurrently because accounts is empty at this point\n"
        '    op.create_index("accounts_name_idx"',
    )
    middle.write_text(text)
    results = lint_migrations([r.source for r in alembic_revisions(project)], LintSettings())
    assert [f for r in results for f in r.findings] == []


def test_broken_revision_is_a_one_line_input_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project)
    (project / "versions" / MIDDLE.name).write_text(
        MIDDLE.read_text().replace('op.create_index("accounts_name_idx"', 'op.nonexistent("x"')
    )
    with pytest.raises(UserError) as exc:
        alembic_revisions(project)
    message = str(exc.value)
    assert "0002_index_account_names.py: alembic could not render revision 0002 offline" in message
    assert "\n" not in message


def test_not_an_alembic_project(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no alembic\.ini or env\.py here"):
        alembic_revisions(tmp_path)


def test_invalid_sql_in_op_execute_points_at_its_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project)
    middle = project / "versions" / MIDDLE.name
    middle.write_text(
        MIDDLE.read_text().replace("SET statement_timeout = '30s'", "SET statement_timeout =")
    )
    sources = [r.source for r in alembic_revisions(project)]
    line = _line_of(middle, "SET statement_timeout =")
    with pytest.raises(UserError) as exc:
        lint_migrations(sources, LintSettings())
    assert str(exc.value).startswith(f"{sources[1].path}:{line}: syntax error")
    assert "the SQL this line emits must be valid PostgreSQL" in str(exc.value)
