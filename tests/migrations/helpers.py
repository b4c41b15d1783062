"""Small helpers shared by the migration tests."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.lint import MigrationResult, lint_migrations
from turnout.core.migrations.model import MigrationSource
from turnout.core.migrations.settings import LintSettings

NO_TIMEOUTS = LintSettings(lock_timeout_required=False, statement_timeout_required=False)


def lint_sql(
    *sqls: str, settings: LintSettings = NO_TIMEOUTS, facts: SchemaFacts | None = None
) -> list[MigrationResult]:
    sources = [MigrationSource(f"m{i}", f"m{i}.sql", sql) for i, sql in enumerate(sqls, 1)]
    return lint_migrations(sources, settings, facts)


def rules_of(result: MigrationResult) -> list[str]:
    return [f.rule for f in result.findings]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> CliResult:
    """``turnout migrate ARGS`` in process, through the real entry point (error mapping
    and exit codes included)."""
    from turnout.cli import main

    monkeypatch.setattr(sys, "argv", ["turnout", "migrate", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
