"""The WSGI face of the demo app, served by the stdlib's wsgiref on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from turnout.demo import DemoRelease, DemoWSGIApp
from turnout.demo.content import pattern


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wsgi() -> Iterator[tuple[DemoWSGIApp, str]]:
    app = DemoWSGIApp(DemoRelease(version="v2", conversion_rate=1.0))
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def client(wsgi: tuple[DemoWSGIApp, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wsgi[1], timeout=10, trust_env=False) as c:
        yield c


def test_home_and_health(client: httpx.Client) -> None:
    home = client.get("/")
    assert (home.status_code, home.text) == (200, "shop v2\n")
    assert home.headers["x-release"] == "v2"
    assert home.headers["x-converted"] == "1"
    assert client.get("/healthz").text == "ok\n"


def test_draining_fails_health(wsgi: tuple[DemoWSGIApp, str], client: httpx.Client) -> None:
    wsgi[0].state.start_draining()
    assert client.get("/healthz").status_code == 503
    assert client.get("/").status_code == 200


def test_bodies(client: httpx.Client) -> None:
    assert client.get("/bytes", params={"n": 100_000}).content == pattern(0, 100_000)
    stream = client.get("/stream", params={"chunks": 4, "interval_ms": 10, "size": 333})
    assert stream.content == pattern(0, 4 * 333)
    assert client.get("/slow", params={"ms": 50}).text == "slept 50 ms\n"
    body = b"x" * 200_000
    assert client.post("/echo", content=body).content == body


def test_headers_status_and_ws(client: httpx.Client) -> None:
    document = json.loads(client.get("/headers", headers={"X-Forwarded-Proto": "https"}).text)
    assert ["x-forwarded-proto", "https"] in document["headers"]
    assert client.get("/status/503").status_code == 503
    assert client.get("/ws").status_code == 426
    assert client.get("/missing").status_code == 404
