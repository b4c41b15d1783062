"""``turnout init | up | down`` (and the hidden ``turnout controller``)."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from pathlib import Path

import httpx
import typer

from turnout.cli.common import config_option, console, load
from turnout.controller import procs
from turnout.controller.client import ControllerClient
from turnout.controller.paths import DEFAULT_CONFIG, Paths, ensure_token, read_token
from turnout.core.config import Config
from turnout.core.routes import parse_address
from turnout.errors import SystemFault, UserError


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("up")(up)
    app.command("down")(down)
    app.command("controller", hidden=True)(controller)


TEMPLATE = """# turnout.toml — how turnout runs and deploys {name}.
# Reference: docs/configuration.md. Durations accept ms, s, m, h.

# Where turnout keeps its state (releases, logs, the journal). Add it to .gitignore.
state_dir = ".turnout"

[app]
name = "{name}"
# Run in the release folder. {{port}} is the port the instance must listen on;
# PORT is set in its environment too.
command = "{command}"
instances = 2
env = {{ }}
# stop_signal = "SIGTERM"      # what the app expects for a graceful stop
# stop_timeout = "10s"         # then SIGKILL

[health]
# The router checks every instance; only healthy ones get traffic.
path = "/healthz"
interval = "1s"
timeout = "1s"
rise = 2                       # passes in a row to become healthy
fall = 2                       # failures in a row to become unhealthy
# expect = "200-399"

[router]
listen = "127.0.0.1:8000"      # where your users (or your edge proxy) connect
admin = "127.0.0.1:8001"       # the router's admin API (loopback)

[controller]
api = "127.0.0.1:8002"         # the controller's API (the CLI talks to it)

[deploy]
strategy = "bluegreen"         # recreate | rolling | bluegreen
timeout = "60s"                # new instances must be healthy within this
drain_timeout = "30s"          # in-flight requests get this long before a stop
keep_warm = "5m"               # the old release stays ready for an instant rollback
watch = "5s"                   # a crash right after the switch rolls back

[deploy.rolling]
batch_size = 1
max_surge = 1
max_unavailable = 0

[deploy.bluegreen]
# preview_header = "x-turnout-preview"   # reach the new release before the switch
pause_before_switch = false

# Smoke checks run against the new release before it gets traffic.
# [deploy.smoke]
# checks = [ {{ path = "/", expect = "200" }} ]
# command = "./smoke.sh"       # TURNOUT_PREVIEW_URL and TURNOUT_PREVIEW_HEADER are set

# Schema changes (PostgreSQL): with a migrations folder set, a deploy refuses a release
# that mixes expand and contract migrations, or contracts the schema while a release
# older than the matching expand still runs (docs/migrations.md).
# [migrations]
# path = "migrations"          # SQL files inside each release; or alembic = "alembic"
"""


def _guess_command(folder: Path) -> str:
    procfile = folder / "Procfile"
    if procfile.is_file():
        for line in procfile.read_text().splitlines():
            if line.startswith("web:"):
                return line[4:].strip().replace("$PORT", "{port}").replace('"', '\\"')
    if (folder / "app.py").is_file():
        return "python app.py --port {port}"
    if (folder / "manage.py").is_file():
        return "python manage.py runserver 127.0.0.1:{port} --noreload"
    if (folder / "package.json").is_file():
        return "npm start"
    return "./run --port {port}"


def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing turnout.toml."),
    config: Path = config_option(),
) -> None:
    """Write a commented turnout.toml for the app in this folder."""
    if config.exists() and not force:
        raise UserError(f"{config} exists already; use --force to overwrite it")
    folder = config.resolve().parent
    name = (
        "".join(c if c.isalnum() or c in "._-" else "-" for c in folder.name).strip("-._") or "app"
    )
    text = TEMPLATE.format(name=name, command=_guess_command(folder))
    from turnout.core.config import parse_config

    parse_config(text, str(config))  # the template must always be valid
    config.write_text(text)
    console().print(f"wrote {config}: edit [app] command, then 'turnout up' and 'turnout deploy .'")


def _port_free(address: str, what: str) -> None:
    host, port = parse_address(address)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise SystemFault(
                f"{what} {address} is in use by another program ({exc.strerror})"
            ) from None


def _wait(url: str, proc_name: str, paths: Paths, token: str | None, timeout: float = 20.0) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        if procs.running(proc_name, paths.run) is None:
            break
        time.sleep(0.05)
    log = paths.logs / f"{proc_name}.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    raise SystemFault(f"{proc_name} did not start: {tail[0] if tail else 'see ' + str(log)}")


def start_router(cfg: Config, paths: Paths) -> str:
    pid = procs.running("router", paths.run)
    if pid is not None:
        return upgrade_router(cfg, paths, pid)
    for addr in cfg.router.listen:
        _port_free(addr, "router.listen")
    _port_free(cfg.router.admin, "router.admin")
    argv = [
        sys.executable,
        "-m",
        "turnout",
        "router",
        "-c",
        str(paths.config),
        "--state-dir",
        str(paths.router_state),
        "--token-file",
        str(paths.token),
    ]
    pid = procs.spawn("router", argv, paths.run, paths.logs / "router.log")
    _wait(f"http://{cfg.router.admin}/v1/health", "router", paths, None)
    return f"router on {', '.join(cfg.router.listen)} (admin {cfg.router.admin}, pid {pid})"


def upgrade_router(cfg: Config, paths: Paths, pid: int) -> str:
    """A router left running by another turnout version (e.g. before an upgrade of the
    package) is restarted in place: the installed version takes over its sockets and
    live route table, without a refused connection (`turnout router restart`)."""
    import turnout
    from turnout.router.client import RouterAdmin

    with RouterAdmin(cfg.router.admin, read_token(paths), timeout=600) as admin:
        running = admin.health().get("version")  # routers before 0.1.0 did not say
        if running == turnout.__version__:
            return f"router already running (pid {pid})"
        answer = admin.restart("30s")
    procs.record("router", int(answer["pid"]), paths.run)
    return (
        f"router upgraded in place: turnout {running or 'older'} -> {turnout.__version__} "
        f"(pid {pid} -> {answer['pid']}, {answer['took_ms']:.0f} ms, route table kept)"
    )


def start_controller(cfg: Config, paths: Paths) -> str:
    pid = procs.running("controller", paths.run)
    if pid is not None:
        return f"controller already running (pid {pid})"
    _port_free(cfg.controller.api, "controller.api")
    argv = [sys.executable, "-m", "turnout", "controller", "-c", str(paths.config)]
    pid = procs.spawn("controller", argv, paths.run, paths.logs / "controller.log")
    _wait(f"http://{cfg.controller.api}/v1/status", "controller", paths, read_token(paths))
    return f"controller API on {cfg.controller.api} (pid {pid})"


def up(config: Path = config_option()) -> None:
    """Start the router and the controller in the background; deploys nothing yet."""
    cfg, paths = load(config)
    ensure_token(paths)
    out = console()
    out.print(start_router(cfg, paths))
    out.print(start_controller(cfg, paths))
    out.print(f"state in {paths.state_dir}; next: turnout deploy <folder>")


def down(config: Path = config_option()) -> None:
    """Stop every instance, the controller and the router."""
    cfg, paths = load(config)
    out = console()
    if procs.running("controller", paths.run) is not None:
        with ControllerClient(cfg.controller.api, read_token(paths)) as api:
            stopped = api.down()["stopped"]
        out.print(f"stopped {len(stopped)} instance{'s' if len(stopped) != 1 else ''}")
        deadline = time.monotonic() + 15
        while procs.running("controller", paths.run) and time.monotonic() < deadline:
            time.sleep(0.05)
        procs.stop("controller", paths.run)
        out.print("controller stopped")
    if procs.stop("router", paths.run):
        out.print("router stopped")


def controller(config: Path = config_option()) -> None:
    """Run the controller in the foreground (what 'turnout up' starts)."""
    from turnout.controller.daemon import run_controller

    run_controller(config)


__all__ = ["DEFAULT_CONFIG", "register"]
