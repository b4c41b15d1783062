"""``turnout report [DEPLOY]``: the timeline of a deploy as a PNG and an HTML page."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from turnout.cli.common import client, config_option, console, load
from turnout.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    deploy: int = typer.Argument(None, help="Deploy number [default: the latest]."),
    out: Path = typer.Option(
        None, "--out", help="Folder for the files [default: <state_dir>/reports]."
    ),
    config: Path = config_option(),
) -> None:
    """Write the deploy's timeline (requests/s per release, failures, p99, every step)."""
    from turnout.report.render import write_report
    from turnout.report.timeline import from_samples

    _, paths = load(config)
    with client(config) as api:
        if deploy is None:
            deploys = api.history(1)["deploys"]
            if not deploys:
                raise UserError("no deploy has run yet")
            deploy = int(deploys[0]["id"])
        data = api.timeline(deploy)
    d = data["deploy"]
    took = (d["finished_at"] or time.time()) - d["started_at"]
    summary = [
        ("deploy", f"#{d['id']} of {d['release']} by {d['strategy']} ({d['user']})"),
        ("outcome", f"{d['status']}: {d.get('message') or ''}"),
        ("took", f"{took:.1f}s"),
        ("previous", d.get("previous") or "none"),
    ]
    timeline = from_samples(
        data["samples"], data["events"], f"deploy #{d['id']}: {d['release']}", summary
    )
    if not timeline.buckets:
        raise UserError(f"deploy #{deploy} has no timeline samples (the router was unreachable?)")
    png, html = write_report(timeline, out or paths.state_dir / "reports", f"deploy-{d['id']}")
    console().print(f"wrote {html}\n      {png}")
