"""Live progress of a deploy or rollback: each step as it runs, instance health and
the traffic split underneath, and a one-line verdict at the end."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from turnout.controller.client import ControllerClient
from turnout.errors import TurnoutError

MARKS = {
    "begin": ("…", "yellow"),
    "end": ("✓", "green"),
    "fail": ("✗", "red"),
    "info": ("·", "cyan"),
}


def _event_line(e: dict[str, Any], t0: float) -> Text:
    mark, color = MARKS.get(e["event"], ("·", "white"))
    text = Text(f"{max(0.0, e['at'] - t0):7.2f}s ", style="dim")
    text.append(f"{mark} ", style=color)
    label = e["message"]
    detail = e.get("detail") or {}
    if e["event"] == "end":
        if "generation" in detail:
            label += f"  [generation {detail['generation']}]"
        if detail.get("waited_ms") is not None:
            label += f"  [{detail['waited_ms']:.0f} ms]"
    if e["phase"] == "rollback" and e["event"] != "info":
        text.append("rollback: ", style="magenta")
    text.append(label, style="red" if e["event"] == "fail" else None)
    return text


def _panel(status: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
    for col in ("instance", "release", "state", "health", "in flight"):
        table.add_column(col)
    for inst in status.get("instances", []):
        health = inst["health"]
        style = "green" if inst["routable"] else ("yellow" if health == "unknown" else "red")
        table.add_row(
            inst["id"],
            inst["release"],
            inst["state"] + (" (draining)" if inst["drain"] else ""),
            Text(health, style=style),
            str(inst["in_flight"]),
        )
    split = status.get("traffic", {}).get("split", {})
    caption = "traffic: " + (", ".join(f"{p} {v:g}%" for p, v in split.items()) or "none")
    for a in status.get("analysis", []):
        needed = f" (needs ~{a['needed']} more canary requests)" if a.get("needed") else ""
        caption += (
            f"\nanalysis {a['analysis']} ({a['judge']}): {a['verdict']}: {a['message']}{needed}"
        )
    table.caption = caption
    table.caption_justify = "left"
    return table


def follow(client: ControllerClient, deploy_id: int, console: Console) -> dict[str, Any]:
    """Print events until the deploy ends; returns the final deploy record."""
    after = 0
    t0: float | None = None
    deploy: dict[str, Any] = {}
    status: dict[str, Any] = {}
    last_status = 0.0
    with Live(Group(), console=console, refresh_per_second=8, transient=True) as live:
        while True:
            data = client.events(deploy_id, after, wait=0.5)
            deploy = data["deploy"]
            t0 = t0 or deploy["started_at"]
            for e in data["events"]:
                after = max(after, e["id"])
                live.console.print(_event_line(e, t0))
            if time.monotonic() - last_status > 0.5:
                try:
                    status = client.status()
                except TurnoutError:
                    status = {}
                last_status = time.monotonic()
            if deploy["status"] == "paused":
                live.update(
                    Group(
                        _panel(status),
                        Text(
                            "paused: 'turnout promote' to continue, 'turnout abort' to roll back",
                            style="yellow",
                        ),
                    )
                )
            else:
                live.update(_panel(status))
            if deploy["status"] not in ("running", "paused", "rolling_back"):
                return deploy


def verdict(deploy: dict[str, Any], console: Console) -> int:
    took = (deploy.get("finished_at") or time.time()) - deploy["started_at"]
    status = deploy["status"]
    text = deploy.get("message") or status
    if status == "succeeded":
        console.print(f"[green]✓ {text}[/] in {took:.1f}s (deploy #{deploy['id']})")
        return 0
    if status == "rolled_back":
        console.print(f"[red]✗ {text}[/] ({deploy.get('reason')}, deploy #{deploy['id']})")
        return 1
    console.print(f"[red]✗ {status}: {text}[/] (deploy #{deploy['id']})")
    return 1
