"""WebSocket sessions on /ws: every message must come back unchanged.

One message round trip is one request in the accounting. A session the server
closes cleanly between two messages (1000, 1001 or 1012, as a draining app does)
is not a failure: the client opens a new one, as a browser would. A message that
went out and got no echo is.

Uses the ``websockets`` package (imported when a run has WebSocket clients).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from turnout.demo.content import BLOCK, pattern
from turnout.errors import SystemFault
from turnout.harness.accounting import Client, Kind, Outcome, Stage
from turnout.harness.http1 import connect_failure
from turnout.harness.spec import WebSocketClients

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from turnout.harness.load import Run

__all__ = ["WebSocketClient", "require_websockets"]

_CLEAN_CLOSE = (1000, 1001, 1012)
_GOING_AWAY = 1001


def require_websockets() -> None:
    """Fail before the run starts when the WebSocket clients cannot work."""
    try:
        import websockets.asyncio.client  # noqa: F401
    except ImportError as exc:
        raise SystemFault(
            "the mix has WebSocket clients but the 'websockets' package is missing: "
            "pip install 'websockets>=13', or set the websocket concurrency to 0"
        ) from exc


class WebSocketClient:
    def __init__(self, run: Run, clients: WebSocketClients, index: int) -> None:
        self.run = run
        self.clients = clients
        self.busy = False
        self._seq = index * 1_000_003  # distinct payloads per client

    def cut_off(self) -> Outcome | None:
        from turnout.harness.load import cut_off

        return cut_off(self.run, Client.WEBSOCKET, self.busy)

    async def loop(self) -> None:
        while not self.run.stopping:
            if not await self._session():
                return

    async def _session(self) -> bool:
        """One session; False when the run is over for this client."""
        run = self.run
        start = run.now()
        try:
            ws = await self._open()
        except Exception as exc:  # every handshake failure is counted, none escapes
            if not run.take():
                return False
            run.record(_handshake_failure(exc, start, run.now()))
            await run.pause_after_failure()
            return True
        release = ws.response.headers.get("x-release") if ws.response else None
        try:
            return await self._messages(ws, release)
        finally:
            self.busy = False
            await ws.close()

    async def _open(self) -> ClientConnection:
        from websockets.asyncio.client import connect

        spec = self.run.spec
        return await connect(
            f"ws://{spec.authority}/ws",
            additional_headers=spec.headers,
            open_timeout=spec.connect_timeout_s,
            ping_interval=None,
            close_timeout=1,
            compression=None,
            proxy=None,
            max_size=max(2**20, 2 * self.clients.message_bytes),
        )

    async def _messages(self, ws: ClientConnection, release: str | None) -> bool:
        run = self.run
        for _ in range(self.clients.messages_per_session):
            if not await run.next_turn(Client.WEBSOCKET):
                return False
            self.busy = True
            outcome = await self._round_trip(ws, release)
            self.busy = False
            if outcome is None:  # closed cleanly before the message went out
                run.give_back()
                return True
            run.record(outcome)
            if not outcome.ok:
                await run.pause_after_failure()
                return True
            if self.clients.interval_ms:
                await asyncio.sleep(self.clients.interval_ms / 1000)
        return True

    async def _round_trip(self, ws: ClientConnection, release: str | None) -> Outcome | None:
        from websockets.exceptions import ConnectionClosed

        run = self.run
        seq, self._seq = self._seq, self._seq + 1
        payload = pattern((seq % 65_536) * BLOCK, self.clients.message_bytes)
        message: str | bytes = payload.decode("ascii") if seq % 2 else payload
        start = run.now()

        def outcome(kind: Kind, stage: Stage, detail: str = "") -> Outcome:
            return Outcome(
                Client.WEBSOCKET, kind, start, run.now(), release, 101, stage, False, detail
            )

        try:
            await ws.send(message)
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code in _CLEAN_CLOSE:
                return None
            return outcome(Kind.RESET_BEFORE_RESPONSE, Stage.HEAD, f"session lost: {exc}")
        try:
            async with asyncio.timeout(run.spec.request_timeout_s):
                echo = await ws.recv()
        except TimeoutError:
            return outcome(Kind.TIMEOUT, Stage.BODY, "no echo in time")
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == _GOING_AWAY:
                # The server announced it is going away and its close crossed this
                # message on the wire (a close may come right behind the previous echo,
                # and nothing tells a client to stop sending): the message was never
                # answered. A client resends it on a new session; so does this one.
                return None
            return outcome(Kind.RESET_MID_RESPONSE, Stage.BODY, f"closed before the echo: {exc}")
        if echo != message:
            return outcome(Kind.BAD_BODY, Stage.DONE, "echo differs from the message sent")
        return outcome(Kind.OK, Stage.DONE)


def _handshake_failure(exc: BaseException, start: float, end: float) -> Outcome:
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        kind = Kind.HTTP_5XX if status >= 500 else Kind.UNEXPECTED_STATUS
        return Outcome(
            Client.WEBSOCKET,
            kind,
            start,
            end,
            None,
            status,
            Stage.CONNECT,
            False,
            f"handshake answered {status}",
        )
    if isinstance(exc, InvalidHandshake):
        return Outcome(
            Client.WEBSOCKET,
            Kind.PROTOCOL,
            start,
            end,
            None,
            None,
            Stage.CONNECT,
            False,
            f"invalid handshake: {exc}",
        )
    if isinstance(exc, EOFError | ConnectionError) and not isinstance(exc, ConnectionRefusedError):
        return Outcome(
            Client.WEBSOCKET,
            Kind.RESET_BEFORE_RESPONSE,
            start,
            end,
            None,
            None,
            Stage.CONNECT,
            False,
            f"handshake lost: {exc!r}",
        )
    kind, stage, detail = connect_failure(exc)
    return Outcome(Client.WEBSOCKET, kind, start, end, None, None, stage, False, detail)
