"""Linter settings and their validation from a ``[migrations]`` TOML table.

```toml
[migrations]
postgres_version = 15            # the server the migrations run on
assume_in_transaction = false    # the runner wraps each file in BEGIN/COMMIT
lock_timeout_required = true     # report lock-timeout
statement_timeout_required = true
schema = "db/schema.sql"         # optional pg_dump --schema-only of the database
path = "migrations"              # the SQL migrations, a folder inside each release
# alembic = "alembic"            # or: an Alembic project inside each release

[migrations.rules]
disable = ["integer-primary-key"]
enable = []
```
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from turnout.errors import UserError

__all__ = ["DEFAULT_POSTGRES_VERSION", "LintSettings", "known_rule_ids", "settings_from_table"]

# PostgreSQL 14 is the oldest major version the PostgreSQL project still supports
# after 13's end of life (November 2025); set postgres_version for older servers.
DEFAULT_POSTGRES_VERSION = 14
_VERSIONS = range(9, 19)
_KEYS = (
    "postgres_version",
    "assume_in_transaction",
    "lock_timeout_required",
    "statement_timeout_required",
    "schema",
    "path",
    "alembic",
    "rules",
)


@dataclass(frozen=True)
class LintSettings:
    postgres_version: int = DEFAULT_POSTGRES_VERSION
    assume_in_transaction: bool = False
    lock_timeout_required: bool = True
    statement_timeout_required: bool = True
    schema: str | None = None
    path: str | None = None  # SQL migrations folder, relative to a release (and the project)
    alembic: str | None = None  # or an Alembic project folder, relative the same way
    disabled: frozenset[str] = field(default_factory=frozenset)
    enabled: frozenset[str] = field(default_factory=frozenset)  # opt-in rules switched on

    def rule_on(self, rule_id: str, default: bool) -> bool:
        if rule_id in self.disabled:
            return False
        if rule_id == "lock-timeout" and not self.lock_timeout_required:
            return False
        if rule_id == "statement-timeout" and not self.statement_timeout_required:
            return False
        return default or rule_id in self.enabled

    def with_version(self, version: int | None) -> LintSettings:
        return (
            self
            if version is None
            else replace(self, postgres_version=_version(version, "--pg-version"))
        )


def known_rule_ids() -> Collection[str] | None:
    """The rule catalogue's ids; None without pglast (the migrations extra), where the
    controller still validates the table and the linter checks rule ids when it runs."""
    try:
        from turnout.core.migrations.rules import RULES_BY_ID
    except ImportError:
        return None
    return frozenset(RULES_BY_ID)


def settings_from_table(
    table: Mapping[str, Any], where: str, known_rules: Collection[str] | None
) -> LintSettings:
    """Validate a ``[migrations]`` table; ``where`` names it in errors. ``known_rules``
    None skips checking rule ids (the rule catalogue needs the migrations extra)."""
    for key in table:
        if key not in _KEYS:
            valid = ", ".join(_KEYS)
            raise UserError(f"{where}: unknown key {key!r}{_suggest(key, _KEYS)}; valid: {valid}")
    rules = table.get("rules", {})
    if not isinstance(rules, Mapping):
        raise UserError(f"{where}: 'rules' must be a table with 'enable' and/or 'disable' lists")
    for key in rules:
        if key not in ("enable", "disable"):
            raise UserError(f"{where}.rules: unknown key {key!r}; valid keys: enable, disable")
    schema = table.get("schema")
    if schema is not None and not isinstance(schema, str):
        raise UserError(f"{where}: schema must be a path string, not {schema!r}")
    path, alembic = _folder(table, "path", where), _folder(table, "alembic", where)
    if path is not None and alembic is not None:
        raise UserError(f"{where}: set path (SQL files) or alembic (an Alembic project), not both")
    return LintSettings(
        postgres_version=_version(
            table.get("postgres_version", DEFAULT_POSTGRES_VERSION), f"{where}: postgres_version"
        ),
        assume_in_transaction=_bool(table, "assume_in_transaction", False, where),
        lock_timeout_required=_bool(table, "lock_timeout_required", True, where),
        statement_timeout_required=_bool(table, "statement_timeout_required", True, where),
        schema=schema,
        path=path,
        alembic=alembic,
        disabled=_rule_list(rules, "disable", where, known_rules),
        enabled=_rule_list(rules, "enable", where, known_rules),
    )


def _version(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in _VERSIONS:
        raise UserError(
            f"{where}: {value!r} is not a PostgreSQL major version; use an integer from "
            f"{_VERSIONS.start} to {_VERSIONS.stop - 1}, e.g. 15"
        )
    return value


def _folder(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    text = value if isinstance(value, str) else ""
    parts = text.replace("\\", "/").split("/")
    if not text.strip() or text.startswith("/") or ".." in parts:
        raise UserError(
            f"{where}: {key} must be a folder inside the release, relative to its root "
            f'(e.g. "migrations"), not {value!r}'
        )
    return text


def _bool(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise UserError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _rule_list(
    rules: Mapping[str, Any], key: str, where: str, known: Collection[str] | None
) -> frozenset[str]:
    value = rules.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}.rules: {key} must be a list of rule ids, not {value!r}")
    for rule in value:
        if known is not None and rule not in known:
            raise UserError(f"{where}.rules.{key}: unknown rule {rule!r}{_suggest(rule, known)}")
    return frozenset(value)


def _suggest(word: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
