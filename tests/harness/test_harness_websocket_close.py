"""How the WebSocket clients count a session the server closes while a message waits
for its echo: a 1001 "going away" close is resent on a new session (what a draining
app's close right behind a reply looks like to a client already sending); any other
close, or a dropped connection, is a failure."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from turnout.harness import Kind, LoadRunner, LoadSpec, Mix, WebSocketClients

websockets = pytest.importorskip("websockets")


@contextlib.contextmanager
def echo_server(end_after: int, how: str) -> Iterator[tuple[int, list[int]]]:
    """Echoes ``end_after`` messages per session, then reads one more and ends the
    session without answering it: ``how`` is a close code, or "drop" (no close frame)."""
    from websockets.asyncio.server import ServerConnection, serve

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: list[Any] = []
    unanswered: list[int] = []

    async def session(ws: ServerConnection) -> None:
        for _ in range(end_after):
            await ws.send(await ws.recv())
        await ws.recv()
        unanswered.append(1)
        if how == "drop":
            ws.transport.abort()
        else:
            await ws.close(int(how), "bye")

    stop = asyncio.Event()

    async def main() -> None:
        async with serve(session, "127.0.0.1", 0, compression=None) as server:
            holder.append(server)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield holder[0].sockets[0].getsockname()[1], unanswered
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()


def _run(port: int, requests: int) -> Any:
    mix = Mix(websocket=WebSocketClients(concurrency=1, messages_per_session=50, interval_ms=0))
    spec = LoadSpec(
        port=port, max_requests=requests, mix=mix, duration_s=10, failure_pause_s=0,
        request_timeout_s=2,
    )  # fmt: skip
    return LoadRunner(spec).start().wait(timeout=20)


def test_a_going_away_close_before_the_echo_is_resent_on_a_new_session() -> None:
    with echo_server(end_after=3, how="1001") as (port, unanswered):
        report = _run(port, requests=9)
    assert (report.sent, report.ok, report.failed) == (9, 9, 0), report.text()
    assert len(unanswered) == 2  # two sessions ended with a message left unanswered


@pytest.mark.parametrize("how", ["1000", "1011", "drop"])
def test_any_other_end_before_the_echo_is_a_failure(how: str) -> None:
    with echo_server(end_after=3, how=how) as (port, _):
        report = _run(port, requests=8)
    assert (report.sent, report.ok, report.failed) == (8, 6, 2), report.text()
    assert report.failed_by_kind == {Kind.RESET_MID_RESPONSE.value: 2}
