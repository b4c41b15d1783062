"""Find and read the linter's settings: the ``[migrations]`` table of ``turnout.toml``
(or of the file given with ``--config``), and the schema file it names."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.rules import RULES_BY_ID
from turnout.core.migrations.schema import facts_from_schema
from turnout.core.migrations.settings import LintSettings, settings_from_table
from turnout.errors import UserError

__all__ = ["DEFAULT_CONFIG", "LoadedSettings", "load_settings"]

DEFAULT_CONFIG = "turnout.toml"


@dataclass(frozen=True)
class LoadedSettings:
    settings: LintSettings
    facts: SchemaFacts | None  # from the schema file, when one is configured
    source: str  # where the settings came from, for messages
    base: Path  # the folder configured paths are relative to (the config file's)


def load_settings(config: Path | None, schema: Path | None = None) -> LoadedSettings:
    """Settings from ``config`` (or ./turnout.toml when present); ``schema`` overrides the
    configured schema file."""
    path = config if config is not None else Path(DEFAULT_CONFIG)
    if config is None and not path.is_file():
        settings, source, base = LintSettings(), "defaults", Path.cwd()
    else:
        table = _migrations_table(path, required=config is not None)
        settings = settings_from_table(table, f"{path} [migrations]", RULES_BY_ID)
        source, base = str(path), path.parent
    schema_path = schema if schema is not None else _configured(settings.schema, base)
    facts = read_schema(schema_path) if schema_path is not None else None
    return LoadedSettings(settings, facts, source, base)


def _configured(schema: str | None, base: Path) -> Path | None:
    return base / schema if schema else None


def _migrations_table(path: Path, *, required: bool) -> dict[str, object]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from exc
    table = doc.get("migrations")
    if table is None:
        if required:
            raise UserError(f"{path}: no [migrations] table; add one (see docs/migrations.md)")
        return {}
    if not isinstance(table, dict):
        raise UserError(f"{path}: 'migrations' must be a table ([migrations])")
    return table


def read_schema(path: Path) -> SchemaFacts:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the schema file: {exc.strerror}") from exc
    return facts_from_schema(text, str(path))
