"""httpapi's two additions for the flag service: streaming responses and public routes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from support.system import free_port
from turnout.httpapi import JsonServer, Request, Response, Routes, StreamResponse


async def _events(closed: list[bool]) -> AsyncIterator[bytes]:
    try:
        for i in range(3):
            yield f"data: {i}\n\n".encode()
            await asyncio.sleep(0.01)
    finally:
        closed.append(True)


@pytest.fixture
def server() -> Iterator[tuple[str, list[bool]]]:
    closed: list[bool] = []

    async def stream(request: Request) -> StreamResponse:
        return StreamResponse(200, _events(closed), headers={"X-Test": "1"})

    async def ping(request: Request) -> Response:
        return Response(200, {"pong": True})

    routes = Routes()
    routes.add("GET", "/stream", stream)
    routes.add("POST", "/open", ping, public=True)
    routes.add("POST", "/closed", ping)
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        srv = await asyncio.start_server(JsonServer(routes, "secret").handle, "127.0.0.1", port)
        started.set()
        await stop.wait()
        srv.close()
        await srv.wait_closed()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    started.wait(5)
    yield f"http://127.0.0.1:{port}", closed
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def test_stream_is_chunked_and_ends(server: tuple[str, list[bool]]) -> None:
    url, closed = server
    r = httpx.get(f"{url}/stream", timeout=5)
    assert r.status_code == 200
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-test"] == "1"
    assert r.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert closed == [True]


def test_public_routes_need_no_token_others_do(server: tuple[str, list[bool]]) -> None:
    url, _ = server
    assert httpx.post(f"{url}/open").json() == {"pong": True}
    assert httpx.post(f"{url}/closed").status_code == 401
    ok = httpx.post(f"{url}/closed", headers={"Authorization": "Bearer secret"})
    assert ok.json() == {"pong": True}
