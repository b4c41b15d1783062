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


@migrate_app.callback()
def _needs_extra() -> None:
    """Safe schema changes: lint, plan, check compatibility, backfill."""
    import importlib.util

    missing = [m for m in ("pglast", "alembic", "psycopg") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"turnout migrate needs {', '.join(missing)}: pip install 'turnout[migrations]'"
        )


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
    sources = load_sources(files or [], alembic, loaded.settings, loaded.base)
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
    sources = load_sources(files or [], alembic, loaded.settings, loaded.base)
    start = pending_after(sources, current)
    history = [r.phase() for r in lint_migrations(sources, loaded.settings, loaded.facts)]
    typer.echo(render_plan(plan_deploys(history[start:], history)))


@migrate_app.command("check-compat")
def check_compat(
    files: list[Path] = _FILES,
    alembic: Path = _ALEMBIC,
    queries: Path = typer.Option(..., "--queries", help="The previous release's queries."),
    queries_format: str = typer.Option(
        "auto", "--queries-format", help="auto, sql, pgss-csv, pgss-json or log."
    ),
    schema: Path = typer.Option(None, "--schema", help="Current schema (pg_dump --schema-only)."),
    schema_from: str = typer.Option(None, "--schema-from", help="DSN to pg_dump the schema from."),
    scratch: str = typer.Option(
        None, "--scratch", help="DSN of a server where a scratch database may be created."
    ),
    current: str = typer.Option(None, "--current", help="The last applied migration."),
    fmt: str = typer.Option("text", "--format", help="text or json."),
    config: Path = _CONFIG,
) -> None:
    """Apply pending migrations to a scratch copy of the schema and PREPARE the previous
    release's queries against it. Exit 0 when all still work, 1 when some would fail."""
    from turnout.core.migrations.compat import render_compat
    from turnout.core.migrations.lint import lint_migrations
    from turnout.core.migrations.querylog import FORMATS, guess_format, parse_queries
    from turnout.migrations.compat import check_compat as run_check
    from turnout.migrations.compat import dump_schema
    from turnout.migrations.config import load_settings
    from turnout.migrations.load import load_sources, pending_after

    if fmt not in ("text", "json"):
        raise UserError(f"--format {fmt!r} is not one of text, json")
    if (schema is None) == (schema_from is None):
        raise UserError(
            "give the current schema with exactly one of --schema FILE or --schema-from DSN"
        )
    scratch_dsn = scratch or schema_from
    if scratch_dsn is None:
        raise UserError(
            "--scratch DSN is required with --schema: a server to create the scratch database on"
        )
    kind = guess_format(str(queries)) if queries_format == "auto" else queries_format
    if kind not in FORMATS:
        raise UserError(
            f"--queries-format {queries_format!r}: use one of auto, {', '.join(FORMATS)}"
        )
    query_set = parse_queries(_read_text(queries), kind, str(queries))
    schema_sql = _read_text(schema) if schema is not None else dump_schema(schema_from)
    loaded = load_settings(config)
    sources = load_sources(files or [], alembic, loaded.settings, loaded.base)
    results = lint_migrations(sources, loaded.settings, loaded.facts)
    report = run_check(
        scratch_dsn, schema_sql, results[pending_after(sources, current) :], query_set
    )
    typer.echo(render_compat(report, fmt, str(queries)))
    if report.failures or report.migration_error:
        raise SystemExit(1)


@migrate_app.command("backfill")
def backfill(
    dsn: str = typer.Option(..., "--dsn", envvar="DATABASE_URL", help="Database to backfill."),
    table: str = typer.Option(..., "--table", help="Table (or schema.table) to update."),
    assignments: str = typer.Option(..., "--set", help='SQL assignments: "col = expr, ...".'),
    where: str = typer.Option(None, "--where", help="SQL condition: rows still to fill."),
    key: str = typer.Option("id", "--key", help="Unique ordered column to batch by."),
    name: str = typer.Option(None, "--name", help="Checkpoint name [default: table and --set]."),
    batch_size: int = typer.Option(1000, "--batch-size", help="Rows per batch (transaction)."),
    lock_timeout: int = typer.Option(2000, "--lock-timeout", help="Per batch, in milliseconds."),
    statement_timeout: int = typer.Option(30000, "--statement-timeout", help="Per batch, ms."),
    max_retries: int = typer.Option(8, "--max-retries", help="Retries of one batch."),
    pause: float = typer.Option(0.0, "--pause", help="Seconds to sleep between batches."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Update a table in small batches with lock_timeout, retry with backoff, and resume
    from the last committed batch when rerun with the same name."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from turnout.core.migrations.backfill import BackfillSpec
    from turnout.migrations.backfill import run_backfill
    from turnout.migrations.postgres import connect

    spec = BackfillSpec.build(
        table=table,
        set=assignments,
        where=where,
        key=key,
        name=name,
        batch_size=batch_size,
        lock_timeout_ms=lock_timeout,
        statement_timeout_ms=statement_timeout,
        max_retries=max_retries,
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        connect(dsn) as conn,
        Progress(*columns, console=Console(stderr=True), disable=not progress) as bar,
    ):
        task = bar.add_task(spec.name, total=None)
        result = run_backfill(
            conn,
            spec,
            on_progress=lambda p: bar.update(task, completed=p.visited, total=p.total),
            pause=pause,
        )
    resumed = f", resumed after key {result.resumed_after}" if result.resumed_after else ""
    typer.echo(
        f"backfill {spec.name}: {result.updated} rows updated in {result.batches} batches "
        f"({result.retries} retries{resumed}); done"
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text") from exc
