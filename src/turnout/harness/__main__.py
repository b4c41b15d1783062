"""``python -m turnout.harness --port N [--duration S] [--keepalive N ...] [--json]``

Runs one load against a target and prints the report; exits 1 when anything
failed. Without any client flag the realistic mix is used. ``turnout verify``
will grow out of this.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from turnout.harness.load import LoadRunner
from turnout.harness.spec import LoadSpec, Mix

_KINDS = ("keepalive", "newconn", "post", "slow", "stream", "websocket")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m turnout.harness", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, default=10.0, help="seconds [default: 10]")
    p.add_argument("--max-requests", type=int, default=None)
    for kind in _KINDS:
        p.add_argument(f"--{kind}", type=int, default=None, metavar="N", help=f"{kind} clients")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    counts = {kind: getattr(args, kind) for kind in _KINDS if getattr(args, kind) is not None}
    try:
        spec = LoadSpec(
            host=args.host,
            port=args.port,
            duration_s=args.duration,
            max_requests=args.max_requests,
            mix=Mix(**counts) if counts else Mix.realistic(),
        )
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = LoadRunner(spec).start().wait()
    print(report.to_json() if args.json else report.text())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
