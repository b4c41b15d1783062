"""Every endpoint of the demo app, served by uvicorn in a real process on loopback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from support.apps import DemoProcess, start_demo
from turnout.demo.content import pattern


@pytest.fixture(scope="module")
def shop() -> Iterator[DemoProcess]:
    demo = start_demo("--name", "shop", "--conversion-rate", "0.5", "--seed", "3", release="v2")
    yield demo
    demo.stop()


@pytest.fixture
def client(shop: DemoProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.url, timeout=10, trust_env=False) as c:
        yield c


def test_home_names_the_release(client: httpx.Client, shop: DemoProcess) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "shop v2\n"
    assert response.headers["content-length"] == "8"
    assert response.headers["x-release"] == "v2"
    assert response.headers["x-instance"] == shop.address


def test_conversions_follow_the_rate(client: httpx.Client) -> None:
    flags = [client.get("/").headers["x-converted"] for _ in range(200)]
    assert set(flags) == {"0", "1"}
    assert 60 < flags.count("1") < 140


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")
    assert response.headers["x-release"] == "v2"


def test_slow_waits(client: httpx.Client) -> None:
    began = time.monotonic()
    response = client.get("/slow", params={"ms": 300})
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3


def test_stream_is_chunked_and_deterministic(client: httpx.Client) -> None:
    with client.stream(
        "GET", "/stream", params={"chunks": 5, "interval_ms": 20, "size": 1000}
    ) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        began = time.monotonic()
        body = b"".join(r.iter_raw())
    assert time.monotonic() - began >= 0.06  # 4 intervals between 5 chunks, minus jitter
    assert body == pattern(0, 5000)


def test_bytes_has_a_fixed_length(client: httpx.Client) -> None:
    response = client.get("/bytes", params={"n": 200_000})
    assert response.headers["content-length"] == "200000"
    assert response.content == pattern(0, 200_000)


def test_echo_with_content_length(client: httpx.Client) -> None:
    body = bytes(range(256)) * 300
    response = client.post("/echo", content=body)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(body))
    assert response.content == body
    assert client.put("/echo", content=b"put").content == b"put"


def test_echo_with_a_chunked_request(client: httpx.Client) -> None:
    pieces = [b"a" * 10, b"b" * 70_000, b"c"]
    response = client.post("/echo", content=iter(pieces))
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.content == b"".join(pieces)


def test_echo_streams_back_before_the_request_ends(shop: DemoProcess) -> None:
    with socket.create_connection((shop.host, shop.port), timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        s.sendall(b"5\r\nfirst\r\n")
        head_and_first = _recv_until(s, b"first")
        assert head_and_first.startswith(b"HTTP/1.1 200")
        s.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
        assert b"second" in _recv_until(s, b"0\r\n\r\n")


def test_expect_100_continue(shop: DemoProcess) -> None:
    with socket.create_connection((shop.host, shop.port), timeout=5) as s:
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert _recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        answer = _recv_until(s, b"hello")
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nhello")


def test_headers_shows_what_arrived(client: httpx.Client) -> None:
    response = client.get("/headers?a=1", headers={"X-Forwarded-For": "10.0.0.1", "Via": "1.1 t"})
    document = json.loads(response.text)
    assert (document["method"], document["path"], document["query"]) == ("GET", "/headers", "a=1")
    assert ["x-forwarded-for", "10.0.0.1"] in document["headers"]
    assert ["via", "1.1 t"] in document["headers"]
    assert document["client"].startswith("127.0.0.1:")


@pytest.mark.parametrize("code", [200, 201, 204, 302, 418, 500, 502, 503])
def test_status(client: httpx.Client, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.headers["x-release"] == "v2"
    assert response.content == (b"" if code == 204 else f"status {code}\n".encode())


def test_errors_are_answered_with_reasons(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    wrong = client.delete("/")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET, HEAD")
    bad = client.get("/bytes", params={"n": "x"})
    assert (bad.status_code, bad.text) == (400, "n must be an integer in 0..268435456, got 'x'\n")


def test_websocket_echoes_text_and_binary(shop: DemoProcess) -> None:
    with connect(f"ws://{shop.address}/ws", proxy=None, open_timeout=5) as ws:
        assert ws.response is not None
        assert ws.response.headers["x-release"] == "v2"
        for message in ["hello", b"\x00\x01binary", "x" * 100_000]:
            ws.send(message)
            assert ws.recv(timeout=5) == message


def _recv_until(s: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        piece = s.recv(65536)
        if not piece:
            break
        data += piece
    return data
