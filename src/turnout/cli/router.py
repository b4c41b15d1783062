"""``turnout router``: run the data plane in the foreground; ``turnout router restart``:
hand it over to a new router process without refusing a connection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from turnout.cli.common import config_option, console
from turnout.errors import UserError

router_app = typer.Typer(
    invoke_without_command=True,
    help="Run the router: an HTTP/1.1 reverse proxy that moves traffic between releases.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(router_app, name="router")


@router_app.callback()
def router(
    ctx: typer.Context,
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
    config: Path = typer.Option(None, "-c", "--config", help="TOML file with a \\[router] table."),
) -> None:
    """Run the router: an HTTP/1.1 reverse proxy that moves traffic between releases."""
    if ctx.invoked_subcommand is not None:
        return
    from turnout.errors import TurnoutError
    from turnout.router.server import run
    from turnout.router.settings import load_settings
    from turnout.runtime.sockets import notify

    try:
        settings = load_settings(
            config=config, listen=listen, admin=admin, state_dir=state_dir, token_file=token_file
        )
        run(settings)
    except TurnoutError as exc:
        notify(f"STATUS={exc}")  # a predecessor handing over to this router shows why
        raise


@router_app.command("restart")
def restart(
    config: Path = config_option(),
    admin: str = typer.Option(
        None, "--admin", help="HOST:PORT of a router's admin API [default: the project's router]"
    ),
    token_file: Path = typer.Option(
        None, "--token-file", help="With --admin: the admin bearer token's file."
    ),
    timeout: str = typer.Option("30s", "--timeout", help="Longest wait for the new router."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Restart the router in place: a new process (the installed turnout) takes over the
    listening sockets and the live route table; the old one finishes and exits."""
    from turnout.controller import procs
    from turnout.router.client import RouterAdmin

    run_dir = None
    if admin is None:
        from turnout.cli.common import load
        from turnout.controller.paths import read_token

        cfg, paths = load(config)
        address, token, run_dir = cfg.router.admin, read_token(paths), paths.run
    else:
        address, token = admin, os.environ.get("TURNOUT_ROUTER_TOKEN")
        if token_file is not None:
            try:
                token = token_file.read_text().strip()
            except OSError as exc:
                raise UserError(f"--token-file {token_file}: {exc.strerror}") from None
    with RouterAdmin(address, token, timeout=600) as client:
        before = client.routes()
        answer = client.restart(timeout)
    if run_dir is not None and procs.running("router", run_dir) == answer["previous_pid"]:
        procs.record("router", int(answer["pid"]), run_dir)
    if json_out:
        typer.echo(json.dumps(answer))
        return
    console().print(
        f"router restarted: pid {answer['previous_pid']} -> {answer['pid']} in "
        f"{answer['took_ms']:.0f} ms; route table generation {before['generation']} kept; "
        "the old process exits once its connections finish"
    )
