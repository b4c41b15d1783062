"""The [migrations] table: validation messages, file discovery, the schema file."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.core.migrations.names import TableName
from turnout.core.migrations.rules import RULES_BY_ID
from turnout.core.migrations.settings import LintSettings, settings_from_table
from turnout.errors import UserError
from turnout.migrations.config import load_settings


def _settings(table: dict[str, object]) -> LintSettings:
    return settings_from_table(table, "turnout.toml [migrations]", RULES_BY_ID)


def test_valid_table() -> None:
    s = _settings(
        {
            "postgres_version": 12,
            "assume_in_transaction": True,
            "lock_timeout_required": False,
            "rules": {"disable": ["integer-primary-key"]},
        }
    )
    assert s.postgres_version == 12 and s.assume_in_transaction
    assert not s.rule_on("lock-timeout", True)
    assert s.rule_on("statement-timeout", True)
    assert not s.rule_on("integer-primary-key", True)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"postgres_verison": 14},
            "unknown key 'postgres_verison' (did you mean 'postgres_version'?)",
        ),
        ({"postgres_version": "15"}, "postgres_version: '15' is not a PostgreSQL major version"),
        ({"postgres_version": 42}, "use an integer from 9 to 18"),
        (
            {"assume_in_transaction": "yes"},
            "assume_in_transaction must be true or false, not 'yes'",
        ),
        (
            {"rules": {"disable": ["drop-tabel"]}},
            "rules.disable: unknown rule 'drop-tabel' (did you mean 'drop-table'?)",
        ),
        ({"rules": {"ignore": []}}, "rules: unknown key 'ignore'; valid keys: enable, disable"),
        ({"rules": ["x"]}, "'rules' must be a table"),
        ({"path": "/srv/db"}, "path must be a folder inside the release, relative to its root"),
        ({"alembic": "../alembic"}, "alembic must be a folder inside the release"),
        ({"path": 3}, "path must be a folder inside the release"),
        ({"path": "db", "alembic": "alembic"}, "set path (SQL files) or alembic"),
    ],
)
def test_invalid_table_names_key_value_and_what_is_valid(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError) as exc:
        _settings(table)
    assert message in str(exc.value)
    assert str(exc.value).startswith("turnout.toml [migrations]")


def test_turnout_toml_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "schema.sql").write_text(
        "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(10));"
    )
    (tmp_path / "turnout.toml").write_text(
        '[router]\nlisten = ["127.0.0.1:8000"]\n\n[migrations]\npostgres_version = 11\nschema = "db/schema.sql"\n'
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_settings(None)
    assert loaded.settings.postgres_version == 11
    assert loaded.facts is not None
    column = loaded.facts.column(TableName.of("users"), "name")
    assert column is not None and str(column.type) == "varchar(10)"


def test_explicit_config_without_migrations_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("[router]\n")
    with pytest.raises(UserError, match=r"other.toml: no \[migrations\] table"):
        load_settings(path)


def test_broken_toml_and_missing_schema_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[migrations\n")
    with pytest.raises(UserError, match=r"bad\.toml: not valid TOML"):
        load_settings(bad)
    good = tmp_path / "good.toml"
    good.write_text('[migrations]\nschema = "missing.sql"\n')
    with pytest.raises(UserError, match=r"missing\.sql: cannot read the schema file"):
        load_settings(good)


def test_schema_dump_with_psql_meta_commands_is_read(tmp_path: Path) -> None:
    dump = tmp_path / "schema.sql"
    dump.write_text(
        "\\restrict abc\nSET statement_timeout = 0;\nCREATE TABLE public.t (a integer);\n\\unrestrict abc\n"
    )
    loaded = load_settings(None, dump)
    assert loaded.facts is not None and TableName.of("t") in loaded.facts.tables


def test_migrations_folder_is_relative_to_the_release() -> None:
    assert _settings({"path": "db/migrations"}).path == "db/migrations"
    assert _settings({"alembic": "alembic"}).alembic == "alembic"
    assert _settings({}).path is None and _settings({}).alembic is None


def test_rule_ids_are_not_checked_without_the_catalogue() -> None:
    # The controller validates [migrations] without pglast (the rule catalogue needs it).
    table = {"rules": {"disable": ["not-a-rule"]}}
    assert settings_from_table(table, "[migrations]", None).disabled == {"not-a-rule"}
