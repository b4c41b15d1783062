"""``turnout verify``: put load on the router while a command (a deploy) runs, and
count every failed request. Exit 1 if any request failed, 3 if only the command
failed, 0 otherwise — so it can gate CI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from turnout.cli.common import config_option, console
from turnout.core.validation import one_line
from turnout.errors import SystemFault, TurnoutError, UserError


def register(app: typer.Typer) -> None:
    app.command(
        "verify", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )(verify)


def verify(
    ctx: typer.Context,
    target: str = typer.Option(None, "--target", help="HOST:PORT [default: router.listen]."),
    duration: float = typer.Option(10.0, "--duration", help="Seconds of load without a command."),
    after: float = typer.Option(2.0, "--after", help="Seconds of load after the command ends."),
    max_seconds: float = typer.Option(600.0, "--max-seconds", help="Hard limit of the run."),
    keepalive: int = typer.Option(4, "--keepalive", help="Keep-alive clients."),
    newconn: int = typer.Option(2, "--newconn", help="New-connection-per-request clients."),
    post: int = typer.Option(2, "--post", help="Clients POSTing bodies to /echo."),
    slow: int = typer.Option(1, "--slow", help="Clients of slow (1-2 s) requests."),
    stream: int = typer.Option(1, "--stream", help="Clients of long streaming responses."),
    websocket: int = typer.Option(0, "--websocket", help="WebSocket sessions."),
    rate: float = typer.Option(None, "--rate", help="Requests/s per client kind (all clients)."),
    report_dir: Path = typer.Option(None, "--report-dir", help="Where the report goes."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    config: Path = config_option(),
) -> None:
    """Load the router while COMMAND runs (after `--`), e.g.
    `turnout verify -- turnout deploy ./build`; report what the clients saw."""
    from turnout.harness import LoadRunner, LoadSpec
    from turnout.harness.spec import Mix
    from turnout.report.load import load_timeline
    from turnout.report.render import write_report
    from turnout.report.timeline import Marker

    command = list(ctx.args)
    cfg_paths = _config(config)
    if target is None:
        if cfg_paths is None:
            raise UserError(f"{config}: no such file; give --target HOST:PORT or -c FILE")
        target = cfg_paths[0].router.listen[0]
    host, _, port_s = target.rpartition(":")
    if not port_s.isdigit():
        raise UserError(f"--target {target!r}: use HOST:PORT")
    kinds = {"keepalive": keepalive, "newconn": newconn, "post": post, "slow": slow,
             "stream": stream, "websocket": websocket}  # fmt: skip
    try:
        mix = Mix(**{k: {"concurrency": n, "rate": rate} for k, n in kinds.items()})
    except ValidationError as exc:
        raise UserError(one_line(exc, "verify")) from None
    try:
        spec = LoadSpec(host=host, port=int(port_s), duration_s=max_seconds, mix=mix)
    except ValidationError as exc:
        raise UserError(one_line(exc, "verify")) from None
    out = console(stderr=json_out)
    marks: list[Marker] = []
    code = None
    with LoadRunner(spec) as load:
        try:
            load.wait_for_ok(min(20, max(1, keepalive * 5)), timeout=15)
        except TimeoutError as exc:
            raise SystemFault(f"{target} is not serving: {exc}; is the router up?") from None
        t0 = time.time() - load.progress().elapsed_s
        if command:
            out.print(f"load on {target}; running: {' '.join(command)}")
            marks.append(Marker(time.time() - t0, "command starts", "info"))
            try:
                # With --json, stdout carries only the result: the command writes to stderr.
                sink = sys.stderr if json_out else None
                code = subprocess.run(command, check=False, stdout=sink).returncode
            except OSError as exc:
                raise UserError(f"cannot run {command[0]}: {exc.strerror}") from None
            marks.append(Marker(time.time() - t0, f"command ends ({code})", "done"))
            time.sleep(after)
        else:
            out.print(f"load on {target} for {duration:g}s")
            time.sleep(duration)
        report = load.stop()
    marks += _deploy_marks(config, t0) if cfg_paths else []
    marks.sort(key=lambda m: m.at)
    title = f"turnout verify: {' '.join(command) if command else target}"
    timeline = load_timeline(report, title, marks)
    folder = report_dir or (
        cfg_paths[1].state_dir / "reports" if cfg_paths else Path("turnout-reports")
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    png, html = write_report(timeline, folder, f"verify-{stamp}")
    exit_code = 1 if report.failed else (3 if code not in (None, 0) else 0)
    if json_out:
        payload: dict[str, Any] = {**report.to_dict(), "command": command, "command_exit": code,
                                   "report": {"png": str(png), "html": str(html)}}  # fmt: skip
        typer.echo(json.dumps(payload, indent=2))
    else:
        out.print(report.text(), highlight=False)
        out.print(f"report: {html}")
        verdict = (
            "[green]0 failed requests[/]"
            if not report.failed
            else f"[red]{report.failed} failed requests[/]"
        )
        out.print(verdict + (f"; command exited {code}" if code else ""))
    raise typer.Exit(exit_code)


def _config(config: Path) -> Any:
    from turnout.cli.common import load

    if not config.exists():
        return None
    return load(config)


def _deploy_marks(config: Path, t0: float) -> list[Any]:
    """Steps of the deploys the controller ran during the load, if it is reachable."""
    from turnout.cli.common import client
    from turnout.report.timeline import markers

    try:
        with client(config) as api:
            deploys = [d for d in api.history(10)["deploys"] if d["started_at"] >= t0]
            out = []
            for d in deploys:
                events = api.timeline(int(d["id"]))["events"]
                out += list(markers(events, t0))
            return out
    except TurnoutError:
        return []
