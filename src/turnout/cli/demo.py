"""``turnout demo``: the switch tour under load (what ``make demo`` runs)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    before: float = typer.Option(4.0, "--before", help="Seconds of load before the switch."),
    after: float = typer.Option(4.0, "--after", help="Seconds of load after the switch."),
) -> None:
    """Run the router in front of two releases of the example shop and switch all
    traffic from v1 to v2 under load; print requests served and failed."""
    from turnout.demo.tour import run_tour

    console = Console(stderr=json_out)
    console.print("[bold]turnout demo[/]: switching v1 -> v2 under load, on loopback\n")
    result = run_tour(before, after, say=lambda line: console.print(line, highlight=False))
    if json_out:
        typer.echo(json.dumps([result.to_dict()], indent=2))
    else:
        report = result.report
        data = result.to_dict()
        table = Table(title="what the clients saw")
        for col in ("strategy", "requests", "failed", "p99 ms", "served by", "verdict"):
            table.add_column(col)
        served = ", ".join(f"{r} {n}" for r, n in sorted(data["ok_by_release"].items()))
        verdict = "[green]0 failed[/]" if report.failed == 0 else f"[red]{report.failed} failed[/]"
        table.add_row(
            "switch (weights 0 -> 100, drain)",
            str(report.sent),
            str(report.failed),
            f"{data['p99_ms']:.1f}" if data["p99_ms"] is not None else "-",
            served,
            verdict,
        )
        console.print()
        console.print(table)
        console.print(report.text(), highlight=False)
    raise typer.Exit(0 if result.report.failed == 0 else 1)
