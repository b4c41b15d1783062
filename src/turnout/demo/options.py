"""Command-line flags of the demo app, parsed into a ``DemoRelease`` and ``ServeOptions``.

Where a value comes from, later wins: the defaults, a release file
(``--release-file`` or the one a release folder passes in), then the flags.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.demo.release import DemoRelease, load_release_file
from turnout.errors import UserError

__all__ = ["ServeOptions", "parse_args"]


@dataclass(frozen=True)
class ServeOptions:
    """How the process serves the app (not part of a release's behaviour)."""

    host: str = "127.0.0.1"
    port: int = 0
    drain_ms: int = 1000  # SIGTERM → keep serving (health 503) this long, then stop listening
    graceful_timeout_ms: int = 30_000  # then wait at most this long for in-flight requests
    keep_alive_s: float = 5.0  # idle keep-alive connections are closed after this


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's exit(2) becomes a UserError
        raise UserError(message)


def _parser() -> _Parser:
    p = _Parser(
        prog="python -m turnout.demo.app",
        description="The turnout demo app (docs/example-app.md).",
        argument_default=argparse.SUPPRESS,
    )
    serve = p.add_argument_group("serving")
    serve.add_argument("--port", type=int, help="port to listen on [default: $PORT]")
    serve.add_argument("--host", help="address to listen on [default: 127.0.0.1]")
    serve.add_argument(
        "--drain-ms",
        type=int,
        help="after SIGTERM, serve with health 503 "
        "this long before closing the listener [default: 1000]",
    )
    serve.add_argument(
        "--graceful-timeout-ms",
        type=int,
        help="then wait at most this long for in-flight requests [default: 30000]",
    )
    serve.add_argument(
        "--keep-alive-s",
        type=float,
        help="close idle keep-alive connections after this [default: 5]",
    )
    rel = p.add_argument_group("release")
    rel.add_argument("--release-file", type=Path, help="TOML file with release keys")
    rel.add_argument("--name", help="app name in bodies [default: shop]")
    rel.add_argument("--release", dest="version", help="version in X-Release [default: v1]")
    rel.add_argument("--error-rate", type=float, help="fraction of GET / answered 500")
    rel.add_argument(
        "--conversion-rate", type=float, help="fraction of GET / carrying X-Converted: 1"
    )
    rel.add_argument("--seed", type=int, help="seed for the error and conversion draws")
    rel.add_argument("--latency-ms", type=int, help="added to every GET /")
    rel.add_argument("--start-delay-ms", type=int, help="sleep this long before listening")
    rel.add_argument("--crash-at-start", action="store_true", help="exit 1 before listening")
    rel.add_argument("--never-healthy", action="store_true", help="/healthz always answers 503")
    rel.add_argument(
        "--crash-after-requests",
        type=int,
        metavar="N",
        help="serve N requests (health checks excluded), die on the next",
    )
    return p


_SERVE_KEYS = ("host", "port", "drain_ms", "graceful_timeout_ms", "keep_alive_s")


def parse_args(
    argv: Sequence[str],
    *,
    release_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[DemoRelease, ServeOptions]:
    """Release and serving options from ``argv``; raises ``UserError`` naming the flag."""
    given = vars(_parser().parse_args(list(argv)))
    file = given.pop("release_file", release_file)
    values: dict[str, Any] = dict(load_release_file(file)) if file is not None else {}
    serve = {key: given.pop(key) for key in _SERVE_KEYS if key in given}
    values.update(given)
    try:
        release = DemoRelease(**values)
    except TypeError as exc:  # a wrongly typed value in a release file
        raise UserError(f"{file}: {exc}") from exc
    env = os.environ if environ is None else environ
    if "port" not in serve:
        if not env.get("PORT", "").isdigit():
            raise UserError("no port: pass --port N or set PORT")
        serve["port"] = int(env["PORT"])
    options = ServeOptions(**serve)
    if not 0 <= options.port <= 65535:
        raise UserError(f"--port: {options.port}: must be 0..65535")
    return release, options
