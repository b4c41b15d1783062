"""The ``turnout`` command line. One module per command group; each is a thin face
over a library call or an API request."""

from __future__ import annotations

import sys

import typer

from turnout import __version__
from turnout.errors import TurnoutError

app = typer.Typer(
    name="turnout",
    help="Zero-downtime deployments: a router that never drops a request.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"turnout {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """turnout: replace version N with N+1 while users keep being served."""


def _register() -> None:
    from turnout.cli import (
        demo,
        deploy,
        flags,
        hotswap,
        inspect,
        lifecycle,
        migrate,
        report,
        router,
        verify,
    )
    from turnout.cli import experiments as experiments_cli

    groups = (lifecycle, deploy, inspect, report, verify, router, hotswap, demo, migrate, flags)
    for group in groups:
        group.register(app)
    experiments_cli.register(app)


def main() -> None:
    """Console entry point: map turnout's errors to one line and an exit code."""
    _register()
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
    except TurnoutError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
