"""``turnout demo``: every strategy under one continuous load (what ``make demo`` runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    json_out: bool = typer.Option(False, "--json", help="Print the results as a JSON list."),
    report_dir: Path = typer.Option(
        Path("turnout-demo"), "--report-dir", help="Where the report (PNG + HTML) goes."
    ),
    pause: float = typer.Option(1.5, "--pause", help="Seconds of load between scenarios."),
) -> None:
    """Start a router and a controller in a temporary project, put load on them and run
    recreate, rolling, blue/green with a rollback, and a bad release being caught.
    Exit 0 when recreate failed requests and every other strategy failed none."""
    from turnout.demo.tour import run_demo
    from turnout.report.load import load_timeline
    from turnout.report.render import write_report

    stream = sys.stderr if json_out else sys.stdout
    # Piped output (make demo | tee ...) gets room for the table rather than 80 columns.
    console = Console(stderr=json_out, highlight=False, width=None if stream.isatty() else 100)
    console.print("[bold]turnout demo[/]: every strategy under one continuous load, on loopback\n")
    run = run_demo(say=console.print, pause=pause)
    rows = run.results()
    timeline = load_timeline(run.report, "turnout demo: every strategy under one load", run.marks)
    png, html = write_report(timeline, report_dir, "demo")
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table(title="what the clients saw, per strategy", box=box.SIMPLE_HEAD)
        for col in ("strategy", "requests", "failed", "p99 ms", "moved in", "verdict"):
            table.add_column(col, no_wrap=True)
        footnote = False
        for r in rows:
            when = (
                f"{r['rollback_ms']:.0f} ms" if r["rollback_ms"] is not None
                else (f"{r['switch_s']:.1f} s" if r["switch_s"] is not None else "-")
            )  # fmt: skip
            failed = f"[red]{r['failed']}[/]" if r["failed"] else "[green]0[/]"
            if r.get("caught_errors"):
                failed += f" (+{r['caught_errors']})"
                footnote = True
            p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
            table.add_row(r["strategy"], str(r["requests"]), failed, p99, when, _short(r))
        console.print()
        console.print(table)
        if footnote:
            console.print("(+n): answered 500 by the bad canary before its analysis caught it")
        console.print(run.report.text())
    console.print(f"report: {html}\n        {png}")
    raise typer.Exit(0 if run.claims_hold() else 1)


def _short(row: dict[str, object]) -> str:
    verdict = str(row["verdict"])
    caught = {"smoke_failed": "smoke check", "analysis_failed": "analysis"}
    for reason, what in caught.items():
        if reason in verdict:
            return f"caught: {what}"
    return verdict
