"""Lint one corpus case the way a user with the corpus schema configured would."""

from __future__ import annotations

from functools import cache

from corpus import SCHEMA, Case

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.lint import MigrationResult, lint_migration
from turnout.core.migrations.model import MigrationSource
from turnout.core.migrations.rules import RULES_BY_ID
from turnout.core.migrations.schema import facts_from_schema
from turnout.core.migrations.settings import LintSettings, settings_from_table


@cache
def _schema_sql() -> str:
    return SCHEMA.read_text()


def case_settings(case: Case) -> LintSettings:
    table: dict[str, object] = {}
    for key, value in case.settings.items():
        if key == "schema":
            continue
        table[key] = int(value) if value.isdigit() else value == "true"
    return settings_from_table(table, f"case {case.id}", RULES_BY_ID)


def case_facts(case: Case) -> SchemaFacts:
    if case.settings.get("schema") == "none":
        return SchemaFacts()
    return facts_from_schema(_schema_sql(), str(SCHEMA))


def lint_case(case: Case) -> MigrationResult:
    source = MigrationSource(case.name, f"{case.rule}.sql", case.sql)
    return lint_migration(source, case_settings(case), case_facts(case))
