"""``turnout router``: run the data plane in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("router")(router)


def router(
    listen: list[str] = typer.Option(
        None, "--listen", help="HOST:PORT clients connect to (repeatable) [default: 127.0.0.1:8000]"
    ),
    admin: str = typer.Option(
        None, "--admin", help="HOST:PORT of the admin API [default: 127.0.0.1:8001]"
    ),
    state_dir: Path = typer.Option(
        None, "--state-dir", help="Where the live route table is persisted."
    ),
    token_file: Path = typer.Option(
        None, "--token-file", help="File holding the admin bearer token."
    ),
    config: Path = typer.Option(None, "-c", "--config", help="TOML file with a [router] table."),
) -> None:
    """Run the router: an HTTP/1.1 reverse proxy that moves traffic between releases."""
    from turnout.router.server import run
    from turnout.router.settings import load_settings

    settings = load_settings(
        config=config, listen=listen, admin=admin, state_dir=state_dir, token_file=token_file
    )
    run(settings)
