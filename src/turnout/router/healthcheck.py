"""Active health checks: one small task per checked instance.

A check opens a new connection, sends ``GET <path>`` with ``Connection: close``
and reads the status line, all within ``timeout``. The result goes through the
pure rise/fall machine (``turnout.core.health``); only a change of status makes
the router recompute availability.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from turnout.core.health import parse_status_ranges, status_expected
from turnout.core.routes import HealthSpec

if TYPE_CHECKING:
    from turnout.router.instances import Instance
    from turnout.router.server import Router

log = logging.getLogger("turnout.router")


async def probe(host: str, port: int, spec: HealthSpec) -> tuple[bool, str]:
    """One check: (passed, what was seen)."""
    ranges = parse_status_ranges(spec.expect)
    writer = None
    try:
        async with asyncio.timeout(spec.timeout):
            reader, writer = await asyncio.open_connection(host, port)
            hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            writer.write(
                f"GET {spec.path} HTTP/1.1\r\nHost: {hostport}\r\n"
                "User-Agent: turnout-health/1\r\nConnection: close\r\n\r\n".encode()
            )
            line = await reader.readline()
    except TimeoutError:
        return False, f"no answer within {spec.timeout:g}s"
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        return False, "not an HTTP response"
    status = int(parts[1])
    return status_expected(status, ranges), f"status {status}"


class HealthChecker:
    def __init__(self, router: Router, instance: Instance, spec: HealthSpec) -> None:
        self.router = router
        self.instance = instance
        self.spec = spec
        self.last = ""
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        inst = self.instance
        while True:
            passed, seen = await probe(inst.host, inst.port, self.spec)
            self.last = seen
            self.router.health_result(inst, passed, seen)
            await asyncio.sleep(self.spec.interval)

    def stop(self) -> None:
        self.task.cancel()
