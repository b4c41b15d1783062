"""The lint engine: positions, suppressions, directives, state across statements and files."""

from __future__ import annotations

import pytest
from helpers import lint_sql, rules_of

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.lint import lint_migration
from turnout.core.migrations.model import Location, MigrationSource, Origin
from turnout.core.migrations.settings import LintSettings
from turnout.errors import UserError


def test_finding_points_at_the_offending_clause() -> None:
    sql = "SELECT 1;\nALTER TABLE t\n  ADD COLUMN c uuid DEFAULT gen_random_uuid();\n"
    [result] = lint_sql(sql)
    [finding] = result.findings
    assert finding.rule == "add-column-rewrite"
    assert finding.location == Location("m1.sql", 3, 21)
    assert finding.statement == "ALTER TABLE t"
    assert "gen_random_uuid() is VOLATILE" in finding.message


def test_columns_count_characters_not_bytes() -> None:
    sql = "SELECT 'héllo';  ALTER TABLE t RENAME COLUMN a TO b;"
    [result] = lint_sql(sql)
    assert result.findings[0].location == Location("m1.sql", 1, 18)


def test_suppression_above_applies_to_the_next_statement_only() -> None:
    sql = (
        "-- turnout: allow rename-column because nothing reads t.a any more\n"
        "ALTER TABLE t RENAME COLUMN a TO b;\n"
        "ALTER TABLE t RENAME COLUMN c TO d;\n"
    )
    [result] = lint_sql(sql)
    assert [(f.rule, f.location.line) for f in result.findings] == [("rename-column", 3)]


def test_trailing_suppression_applies_to_the_statement_it_ends() -> None:
    sql = (
        "ALTER TABLE t\n"
        "  RENAME COLUMN a TO b; -- turnout: allow rename-column because t is unused\n"
        "ALTER TABLE t RENAME COLUMN c TO d;\n"
    )
    [result] = lint_sql(sql)
    assert [f.location.line for f in result.findings] == [3]


def test_suppression_lists_several_rules() -> None:
    sql = (
        "-- turnout: allow create-index-concurrently,lock-timeout because t is empty\n"
        "CREATE INDEX i ON t (a);\n"
    )
    [result] = lint_sql(sql, settings=LintSettings(statement_timeout_required=False))
    assert result.findings == ()


def test_suppression_without_reason_is_an_input_error() -> None:
    with pytest.raises(UserError, match=r"m1.sql:1: the suppression of drop-table needs a reason"):
        lint_sql("-- turnout: allow drop-table\nDROP TABLE t;")


def test_suppression_of_an_unknown_rule_suggests_the_closest() -> None:
    with pytest.raises(UserError, match=r"m1.sql:2: unknown rule 'drop-tabel'.*'drop-table'"):
        lint_sql("SELECT 1;\n-- turnout: allow drop-tabel because x\nDROP TABLE t;")


def test_unused_suppression_is_reported_where_it_is() -> None:
    sql = "-- turnout: allow drop-table because legacy\nALTER TABLE t ADD COLUMN a text;\n"
    [result] = lint_sql(sql)
    [finding] = result.findings
    assert (finding.rule, finding.location.line) == ("unused-suppression", 1)


def test_unknown_directive_and_bad_phase_are_input_errors() -> None:
    with pytest.raises(UserError, match="unknown turnout directive 'alow'"):
        lint_sql("-- turnout: alow drop-table because x\nDROP TABLE t;")
    with pytest.raises(UserError, match="phase must be one of expand, migrate, contract"):
        lint_sql("-- turnout: phase=shrink\nDROP TABLE t;")
    with pytest.raises(UserError, match="expand=<migration> only applies to phase=contract"):
        lint_sql("-- turnout: phase=expand expand=0001\nSELECT 1;")


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(UserError, match=r"^m1.sql:2:25: syntax error at or near \";\""):
        lint_sql("SELECT 1;\nALTER TABLE t ADD COLUMN;\n")


def test_validated_check_from_an_earlier_migration_makes_set_not_null_cheap() -> None:
    first = (
        "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n"
    )
    second = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
    facts = SchemaFacts()
    assert rules_of(lint_sql(second, facts=SchemaFacts())[0]) == ["set-not-null"]
    facts_seen = lint_sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);", first, second, facts=facts
    )
    assert [rules_of(r) for r in facts_seen] == [[], [], []]


def test_a_table_created_in_an_earlier_migration_is_not_new() -> None:
    results = lint_sql("CREATE TABLE t (id bigint PRIMARY KEY);", "CREATE INDEX i ON t (id);")
    assert [rules_of(r) for r in results] == [[], ["create-index-concurrently"]]


def test_local_timeout_ends_with_its_transaction() -> None:
    sql = (
        "BEGIN;\nSET LOCAL lock_timeout = '1s';\nSET LOCAL statement_timeout = '1s';\n"
        "ALTER TABLE t ADD COLUMN a text;\nCOMMIT;\nALTER TABLE t ADD COLUMN b text;\n"
    )
    [result] = lint_sql(sql, settings=LintSettings())
    assert sorted((f.rule, f.location.line) for f in result.findings) == [
        ("lock-timeout", 6),
        ("statement-timeout", 6),
    ]


def test_timeout_rules_report_once_per_migration() -> None:
    sql = "ALTER TABLE t ADD COLUMN a text;\nALTER TABLE t ADD COLUMN b text;\n"
    [result] = lint_sql(sql, settings=LintSettings())
    assert sorted(rules_of(result)) == ["lock-timeout", "statement-timeout"]


def test_postgres_version_changes_the_verdict() -> None:
    sql = "ALTER TABLE t ADD COLUMN a text DEFAULT 'x';"
    old = LintSettings(
        postgres_version=10, lock_timeout_required=False, statement_timeout_required=False
    )
    assert rules_of(lint_sql(sql, settings=old)[0]) == ["add-column-rewrite"]
    assert rules_of(lint_sql(sql)[0]) == []


def test_disabled_rule_is_not_reported() -> None:
    settings = LintSettings(
        disabled=frozenset({"rename-column"}),
        lock_timeout_required=False,
        statement_timeout_required=False,
    )
    assert lint_sql("ALTER TABLE t RENAME COLUMN a TO b;", settings=settings)[0].findings == ()


def test_generated_sql_findings_point_at_their_origin_line() -> None:
    sql = "BEGIN;\n\nCREATE INDEX i ON t (a);\n\nUPDATE alembic_version SET version_num='2';\n\nCOMMIT;\n"
    begin, index, bookkeeping = sql.index("BEGIN"), sql.index("CREATE"), sql.index("UPDATE")
    origins = (
        Origin(begin, index, None),
        Origin(index, bookkeeping, 14, 5),
        Origin(bookkeeping, len(sql), None),
    )
    comments = ((13, "# turnout: allow lock-timeout because the runner sets it"),)
    source = MigrationSource("0002", "versions/0002.py", sql, origins, comments)
    result = lint_migration(source, LintSettings(statement_timeout_required=False), SchemaFacts())
    assert [(f.rule, str(f.location)) for f in result.findings] == [
        ("create-index-concurrently", "versions/0002.py:14:5")
    ]
    assert [s.runner for s in result.statements] == [True, False, True, True]


def test_lock_held_across_statements_names_the_lock_and_its_line() -> None:
    sql = "BEGIN;\nALTER TABLE a ADD COLUMN x text;\nALTER TABLE b ADD COLUMN y text;\nCOMMIT;\n"
    [result] = lint_sql(sql)
    [finding] = result.findings
    assert finding.rule == "lock-held-across-statements"
    assert "ACCESS EXCLUSIVE on a (taken on line 2)" in finding.message
    assert finding.location.line == 3
