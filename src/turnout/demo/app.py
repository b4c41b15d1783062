"""The turnout demo app: one module to serve it, two ways to host it.

- ``python -m turnout.demo.app --port N [flags]`` serves it with uvicorn
  (see ``--help`` and docs/example-app.md);
- ``app`` is the ASGI app and ``wsgi_app`` the WSGI app, both configured from
  ``TURNOUT_DEMO_ARGS`` (the same flags, e.g. ``"--release v2 --error-rate 0.05"``),
  for ``uvicorn turnout.demo.app:app`` or ``gunicorn turnout.demo.app:wsgi_app``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from turnout.app import TurnoutASGI, TurnoutWSGI
from turnout.demo.asgi import DemoASGIApp
from turnout.demo.options import parse_args
from turnout.demo.release import DemoRelease
from turnout.demo.wsgi import DemoWSGIApp
from turnout.errors import TurnoutError

__all__ = [
    "DemoASGIApp",
    "DemoRelease",
    "DemoWSGIApp",
    "app",
    "main",
    "release_from_env",
    "wsgi_app",
]


def release_from_env() -> DemoRelease:
    """The release described by ``TURNOUT_DEMO_ARGS`` (release flags only)."""
    argv = shlex.split(os.environ.get("TURNOUT_DEMO_ARGS", ""))
    release, _ = parse_args(argv, environ={"PORT": "0"})
    return release


def main(argv: Sequence[str] | None = None, *, release_file: Path | None = None) -> int:
    """Serve the demo app; the process exit status."""
    try:
        release, options = parse_args(
            sys.argv[1:] if argv is None else argv, release_file=release_file
        )
    except TurnoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    from turnout.demo.server import serve  # uvicorn is needed only to serve

    return serve(release, options)


_release = release_from_env()
# Hosted by a server (uvicorn, gunicorn), the app drains the way turnout asks it to
# (turnout.app): health 503, Connection: close and WebSockets closed with 1001.
app = TurnoutASGI(DemoASGIApp(_release))
wsgi_app = TurnoutWSGI(DemoWSGIApp(_release))

if __name__ == "__main__":
    sys.exit(main())
