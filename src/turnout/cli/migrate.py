"""``turnout migrate``: lint migrations, plan expand/migrate/contract deploys, check the
previous release's queries against the new schema, run resumable backfills."""

from __future__ import annotations

from pathlib import Path

import typer

from turnout.errors import UserError

migrate_app = typer.Typer(
    name="migrate",
    help="Safe schema changes: lint, plan, check compatibility, backfill.",
    no_args_is_help=True,
)

_FILES = typer.Argument(None, help="SQL migration files or directories, applied in this order.")
_ALEMBIC = typer.Option(
    None, "--alembic", help="An Alembic project: lint each revision separately."
)
_CONFIG = typer.Option(
    None, "-c", "--config", help="TOML file with a [migrations] table [default: ./turnout.toml]."
)


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")


@migrate_app.command("lint")
def lint(
    files: list[Path] = _FILES,
    alembic: Path = _ALEMBIC,
    fmt: str = typer.Option("text", "--format", help="text, json, github or sarif."),
    config: Path = _CONFIG,
    schema: Path = typer.Option(
        None, "--schema", help="Schema dump (pg_dump --schema-only) to judge changes against."
    ),
    pg_version: int = typer.Option(None, "--pg-version", help="Target PostgreSQL major version."),
) -> None:
    """Report unsafe statements. Exit 0 when clean, 1 with findings, 2 on bad input."""
    from turnout.core.migrations.lint import lint_migrations
    from turnout.core.migrations.report import FORMATS, render
    from turnout.migrations.config import load_settings
    from turnout.migrations.load import load_sources

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    loaded = load_settings(config, schema)
    settings = loaded.settings.with_version(pg_version)
    sources = load_sources(files or [], alembic)
    results = lint_migrations(sources, settings, loaded.facts)
    findings = [f for r in results for f in r.findings]
    typer.echo(render(findings, fmt, len(results)))
    if findings:
        # SystemExit, not typer.Exit: the root runs click with standalone_mode=False,
        # which turns typer.Exit into a return value that main() drops.
        raise SystemExit(1)


@migrate_app.command("rules")
def rules() -> None:
    """List every rule: id, category, what it catches."""
    from turnout.core.migrations.rules import RULES

    width = max(len(r.id) for r in RULES)
    for rule in RULES:
        default = "" if rule.default else " (opt-in)"
        typer.echo(f"{rule.id:<{width}}  {rule.category:<13} {rule.summary}{default}")


@migrate_app.command("plan")
def plan(
    files: list[Path] = _FILES,
    alembic: Path = _ALEMBIC,
    current: str = typer.Option(
        None, "--current", help="The last applied migration; later ones are pending."
    ),
    config: Path = _CONFIG,
    schema: Path = typer.Option(None, "--schema", help="Schema dump to judge changes against."),
) -> None:
    """Show the expand → migrate → contract deploy sequence for pending migrations."""
    from turnout.core.migrations.lint import lint_migrations
    from turnout.core.migrations.plan import plan_deploys, render_plan
    from turnout.migrations.config import load_settings
    from turnout.migrations.load import load_sources, pending_after

    loaded = load_settings(config, schema)
    sources = load_sources(files or [], alembic)
    start = pending_after(sources, current)
    history = [r.phase() for r in lint_migrations(sources, loaded.settings, loaded.facts)]
    typer.echo(render_plan(plan_deploys(history[start:], history)))
