"""``turnout run -- COMMAND`` and ``turnout reload``: hot swap on inherited sockets."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from turnout.cli.common import console
from turnout.errors import SystemFault, UserError


def register(app: typer.Typer) -> None:
    app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
        run
    )
    app.command("reload")(reload)


def run(
    ctx: typer.Context,
    listen: list[str] = typer.Option(..., "--listen", help="HOST:PORT to own (repeatable)."),
    name: str = typer.Option("app", "--name", help="Names the control socket and the log."),
    state_dir: Path = typer.Option(Path(".turnout/run"), "--state-dir"),
    workdir: Path = typer.Option(Path("."), "--workdir", help="Where the command runs."),
    health: str = typer.Option("/healthz", "--health", help="Path of the health check."),
    expect: str = typer.Option("200-399", "--expect", help="Statuses that pass."),
    rise: int = typer.Option(2, "--rise", help="Passed checks in a row before a swap."),
    start_timeout: str = typer.Option("30s", "--start-timeout"),
    drain_notice: str = typer.Option(
        "1s", "--drain-notice", help="Between the drain notice and the stop signal."
    ),
    drain_linger: str = typer.Option(
        "5s",
        "--drain-linger",
        help="Then up to this long until connections open at the notice are closed.",
    ),
    drain_timeout: str = typer.Option("30s", "--drain-timeout", help="Then SIGKILL."),
    stop_signal: str = typer.Option(None, "--stop-signal", help="[default: the server's own]"),
) -> None:
    """Own the listening sockets and run COMMAND (after `--`) on them; SIGHUP or
    `turnout reload` swaps it for a new process without refusing a connection."""
    from turnout.hotswap.supervisor import RunSettings, duration
    from turnout.hotswap.supervisor import run as run_supervisor

    command = list(ctx.args)
    if not command:
        raise UserError(
            "give the command after `--`, e.g. "
            "turnout run --listen 127.0.0.1:8000 -- gunicorn app:app"
        )
    settings = RunSettings(
        listen=list(listen), command=command, workdir=workdir.resolve(), name=name,
        state_dir=state_dir.resolve(), health_path=health, expect=expect, rise=rise,
        start_timeout=duration(start_timeout, "--start-timeout"),
        drain_notice=duration(drain_notice, "--drain-notice"),
        drain_linger=duration(drain_linger, "--drain-linger"),
        drain_timeout=duration(drain_timeout, "--drain-timeout"), stop_signal=stop_signal,
    )  # fmt: skip
    raise typer.Exit(run_supervisor(settings))


def reload(
    name: str = typer.Option("app", "--name"),
    state_dir: Path = typer.Option(Path(".turnout/run"), "--state-dir"),
    workdir: Path = typer.Option(None, "--workdir", help="Run the new process here."),
    command: str = typer.Option(None, "--command", help="A new command line (default: the same)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Swap the app of a running `turnout run` for a new process, in place."""
    from turnout.hotswap import servers
    from turnout.hotswap.supervisor import request

    message: dict[str, object] = {"cmd": "reload"}
    if workdir is not None:
        if not workdir.is_dir():
            raise UserError(f"--workdir {workdir}: no such folder")
        message["workdir"] = str(workdir.resolve())
    if command is not None:
        argv = servers.split(command)
        servers.check(argv)
        message["command"] = argv
    answer = request((state_dir / f"{name}.sock").resolve(), message)
    if json_out:
        typer.echo(json.dumps(answer))
    elif answer.get("ok"):
        console().print(
            f"generation {answer['generation']} (pid {answer['pid']}) serving: ready in "
            f"{answer['ready_s']:.2f}s, old one drained in {answer['drain_s']:.2f}s"
        )
    if not answer.get("ok"):
        raise SystemFault(
            f"reload refused, the running generation keeps serving: {answer.get('reason')}"
        )
