"""Serve the demo app with uvicorn (uvloop, httptools, websockets), draining on SIGTERM.

Drain: the first SIGTERM makes /healthz answer 503 and every response carry
``Connection: close`` at once; the listener stays open for ``drain_ms`` so a
router's health checks see it, then closes; requests in flight finish (bounded by
``graceful_timeout_ms``) and the process exits 0. A second SIGTERM, or SIGINT,
stops at once the way uvicorn does.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from turnout.demo.asgi import DemoASGIApp
from turnout.demo.options import ServeOptions
from turnout.demo.release import DemoRelease

__all__ = ["serve"]


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: DemoASGIApp, drain_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_s = drain_s
        self._stop_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self._stop_at is None:
            self._app.state.start_draining()
            self._stop_at = time.monotonic() + self._drain_s
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            self.should_exit = True
        return await super().on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            label = self._app.release.label
            print(f"{label} listening on http://{host}:{port}", flush=True)


def serve(release: DemoRelease, options: ServeOptions) -> int:
    """Run until stopped; the exit status (0 after a drain)."""
    if release.start_delay_ms:
        time.sleep(release.start_delay_ms / 1000)
    if release.crash_at_start:
        print(f"{release.label}: crashing at start (--crash-at-start)", file=sys.stderr)
        return 1
    app = DemoASGIApp(release)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # show the peer as it is: tests check what the router forwards
        log_level="warning",
        timeout_keep_alive=int(options.keep_alive_s) or 1,
        timeout_graceful_shutdown=max(1, round(options.graceful_timeout_ms / 1000)),
    )
    server = _DrainingServer(config, app, options.drain_ms / 1000)
    server.run()
    return 0 if server.started else 1
