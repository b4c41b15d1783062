"""``turnout deploy | rollback | promote | abort | retire``."""

from __future__ import annotations

from pathlib import Path

import typer

from turnout.cli.common import client, config_option, console
from turnout.cli.follow import follow, verdict


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("rollback")(rollback)
    app.command("promote")(promote)
    app.command("abort")(abort)
    app.command("retire")(retire)


def _source(value: str) -> str:
    if value.startswith("git:"):
        return value
    path = Path(value)
    return str(path.resolve()) if path.exists() else value


def deploy(
    source: str = typer.Argument(..., help="A release folder, a .tar.gz/.whl, or git:REF."),
    strategy: str = typer.Option(None, "--strategy", "-s", help="recreate | rolling | bluegreen"),
    force: bool = typer.Option(False, "--force", help="Deploy even if this digest is live."),
    detach: bool = typer.Option(False, "--detach", help="Start the deploy and return at once."),
    config: Path = config_option(),
) -> None:
    """Deploy a release: exit 0 when it is live, 1 when it was rolled back, 2 for bad input."""
    out = console()
    with client(config) as api:
        answer = api.deploy(_source(source), strategy, force)
        if answer["deploy"] is None:
            out.print(answer["message"])
            raise typer.Exit(0)
        d = answer["deploy"]
        out.print(f"[bold]deploy #{d['id']}[/]: {answer['release']} by {d['strategy']}")
        for i, step in enumerate(answer["steps"], 1):
            out.print(f"  [dim]{i:2}. {step}[/]")
        if detach:
            raise typer.Exit(0)
        final = follow(api, d["id"], out)
    raise typer.Exit(verdict(final, out))


def rollback(
    release: str = typer.Argument(None, help="Release to go back to [default: the last good one]."),
    detach: bool = typer.Option(False, "--detach", help="Start the rollback and return at once."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Go back even to a release older than a contract migration's expand "
        "(once you have restored the schema it needs).",
    ),
    config: Path = config_option(),
) -> None:
    """Go back to the previous good release (a routing flip inside a warm window)."""
    out = console()
    with client(config) as api:
        answer = api.rollback(release, force)
        d = answer["deploy"]
        out.print(f"[bold]rollback #{d['id']}[/]: back to {answer['release']}")
        if detach:
            raise typer.Exit(0)
        final = follow(api, d["id"], out)
    raise typer.Exit(verdict(final, out))


def promote(config: Path = config_option()) -> None:
    """Let a paused deploy continue."""
    with client(config) as api:
        d = api.promote()["deploy"]
    console().print(f"deploy #{d['id']} promoted")


def retire(
    release: str = typer.Argument(None, help="Release to stop [default: every warm one]."),
    config: Path = config_option(),
) -> None:
    """End warm windows now: stop releases kept running beside the live one."""
    with client(config) as api:
        retired = api.retire(release)["retired"]
    if retired:
        console().print(f"stopped {', '.join(retired)}; no instant rollback to them any more")
    else:
        console().print("no release runs besides the live one")


def abort(config: Path = config_option()) -> None:
    """Stop the deploy in progress and roll back to the last good release."""
    with client(config) as api:
        d = api.abort()["deploy"]
    console().print(f"deploy #{d['id']}: abort requested; it rolls back now")
