"""``turnout status | history | logs``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from turnout.cli.common import client, config_option, console


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("history")(history)
    app.command("logs")(logs)


def status(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path = config_option(),
) -> None:
    """Releases, instances, health, traffic split and the deploy in progress."""
    with client(config) as api:
        data = api.status()
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    out = console()
    out.print(f"[bold]{data['app']}[/]: live release {data['good'] or 'none'}")
    split = data["traffic"]["split"]
    router = "router ok" if data["traffic"]["router"] else "[red]router unreachable[/]"
    out.print(
        f"traffic: {', '.join(f'{p} {v:g}%' for p, v in split.items()) or 'none'} "
        f"(generation {data['traffic']['generation']}, {router})"
    )
    if data["deploy"]:
        d = data["deploy"]
        out.print(
            f"[yellow]deploy #{d['id']} of {d['release']} ({d['strategy']}): {d['status']}, "
            f"{d['phase']} step {d['step'] + 1}[/]"
        )
    for a in data.get("analysis", []):
        kind = "background" if not a["blocking"] else "blocking"
        out.print(
            f"analysis {a['analysis']} ({a['judge']}, {kind}, {a['elapsed_s']:.0f}s): "
            f"{a['verdict']}: {a['message']}"
        )
    table = Table("instance", "release", "address", "state", "health", "in flight")
    for i in data["instances"]:
        table.add_row(
            i["id"],
            i["release"],
            i["address"],
            i["state"] + (" (draining)" if i["drain"] else ""),
            i["health"],
            str(i["in_flight"]),
        )
    out.print(table)
    for t in data["timers"]:
        out.print(f"{t['release']} stays warm for {max(0, t['due_at'] - time.time()):.0f}s more")


def history(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    limit: int = typer.Option(20, "--limit", "-n"),
    config: Path = config_option(),
) -> None:
    """Past deploys: who, when, release, strategy, outcome, duration."""
    with client(config) as api:
        data = api.history(limit)
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("#", "when", "who", "release", "strategy", "outcome", "took", "why")
    for d in data["deploys"]:
        took = (d["finished_at"] or time.time()) - d["started_at"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["started_at"]))
        table.add_row(
            str(d["id"]),
            when,
            d["user"],
            d["release"],
            d["strategy"],
            d["status"],
            f"{took:.1f}s",
            d.get("message") or "",
        )
    console().print(table)


def logs(
    release: str = typer.Argument(None, help="Release [default: the live one]."),
    lines: int = typer.Option(50, "--lines", "-n"),
    config: Path = config_option(),
) -> None:
    """The last lines each instance of a release wrote."""
    with client(config) as api:
        data = api.logs(release, lines)
    out = console()
    for inst in data["instances"]:
        out.print(f"[bold]== {inst['instance']} ({inst['state']})[/]")
        for line in inst["lines"]:
            out.print(line, markup=False)
