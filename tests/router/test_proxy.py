"""Proxying behaviour with real clients (httpx, curl, websockets, raw sockets) and
the real demo app as the upstream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import subprocess
import time

import httpx
import pytest
import websockets

from support.router import one_pool
from turnout.demo.content import pattern

from .rawhttp import connect, exchange, is_closed, read_responses


@pytest.fixture
def proxied(router, demo_app):
    router.put_routes(one_pool(demo_app.address))
    return router


def test_get_reaches_the_release(proxied):
    r = httpx.get(proxied.url("/"))
    assert r.status_code == 200
    assert r.headers["x-release"] == "v1"
    assert "v1" in r.text


def test_forwarded_headers_are_set_and_hop_by_hop_removed(proxied):
    r = httpx.get(
        proxied.url("/headers"),
        headers={
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Kept": "yes",
        },
    )
    seen = {k.lower(): v for k, v in _header_pairs(r.json())}
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"  # set by the router, not trusted from the client
    assert seen["x-forwarded-host"] == proxied.address
    assert seen["host"] == proxied.address
    assert "1.1 turnout" in seen["via"]
    assert seen["x-kept"] == "yes"
    for gone in ("x-drop-me", "keep-alive", "te"):
        assert gone not in seen


def _header_pairs(doc):
    headers = doc["headers"] if isinstance(doc, dict) and "headers" in doc else doc
    if isinstance(headers, dict):
        return list(headers.items())
    return [tuple(pair) for pair in headers]


def test_fixed_length_body_round_trips(proxied):
    body = pattern(0, 3 * 1024 * 1024 + 7)
    r = httpx.post(proxied.url("/echo"), content=body, timeout=30)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(body).digest()


def test_chunked_body_round_trips(proxied):
    pieces = [pattern(i * 5000, 5000) for i in range(200)]
    r = httpx.post(proxied.url("/echo"), content=iter(pieces), timeout=30)
    assert r.status_code == 200
    assert r.content == b"".join(pieces)


def test_large_response_is_complete(proxied):
    n = 20 * 1024 * 1024
    with httpx.stream("GET", proxied.url(f"/bytes?n={n}"), timeout=30) as r:
        digest = hashlib.sha256()
        size = 0
        for part in r.iter_raw():
            digest.update(part)
            size += len(part)
    assert size == n
    assert digest.digest() == hashlib.sha256(pattern(0, n)).digest()


def test_response_streams_through_without_waiting_for_the_end(proxied):
    start = time.monotonic()
    arrivals = []
    with httpx.stream(
        "GET", proxied.url("/stream?chunks=5&interval_ms=400&size=100"), timeout=30
    ) as r:
        for _ in r.iter_raw():
            arrivals.append(time.monotonic() - start)
    assert arrivals[-1] >= 1.5
    assert arrivals[0] < 0.8  # the first chunk came while the app was still producing


def test_request_body_streams_through_without_waiting_for_the_end(proxied):
    """The echo starts coming back while the upload is still open."""
    with connect(proxied.address) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
        )
        sock.settimeout(5)
        got = b""
        while b"first" not in got:
            data = sock.recv(65536)
            assert data, "connection closed before the echo"
            got += data
        sock.sendall(b"4\r\nlast\r\n0\r\n\r\n")
        while not got.endswith(b"0\r\n\r\n"):
            got += sock.recv(65536)
    assert got.startswith(b"HTTP/1.1 200")
    assert b"last" in got


def test_expect_100_continue_is_relayed(proxied):
    with connect(proxied.address) as sock:
        sock.sendall(
            b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        sock.settimeout(5)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
        sock.sendall(b"hello")
        responses, _ = read_responses(sock, 1) if not rest else (None, False)
    if responses is not None:
        assert responses[0].status == 200 and responses[0].body == b"hello"


def test_pipelined_requests_are_answered_in_order(proxied):
    raw = b"".join(
        b"GET /status/%d HTTP/1.1\r\nHost: t\r\n\r\n" % code for code in (201, 202, 203, 204)
    )
    responses, _ = exchange(proxied.address, raw, count=4)
    assert [r.status for r in responses] == [201, 202, 203, 204]


def test_pipelined_post_bodies_stay_with_their_request(proxied):
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none"
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    responses, _ = exchange(proxied.address, raw, count=3)
    assert [r.body for r in responses[:2]] == [b"one", b"two"]
    assert responses[2].status == 200 and b"v1" in responses[2].body


def test_http10_client_gets_an_answer_and_a_close(proxied):
    with connect(proxied.address) as sock:
        sock.sendall(b"GET /stream?chunks=3&interval_ms=0&size=10 HTTP/1.0\r\n\r\n")
        data = b""
        sock.settimeout(5)
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"chunked" not in head.lower()  # a 1.0 client cannot read chunked coding
    assert body == pattern(0, 30)


def test_head_request_and_keep_alive_afterwards(proxied):
    with connect(proxied.address) as sock:
        sock.sendall(b"HEAD /bytes?n=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-length: 1000" in head.lower()
        assert head.endswith(b"\r\n\r\n")  # no body bytes
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        responses, _ = read_responses(sock, 1)
    assert responses[0].status == 200


def test_connection_close_from_client_is_honoured(proxied):
    with connect(proxied.address) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        responses, eof = read_responses(sock, 1)
        assert responses[0].header(b"connection") == b"close"
        assert eof or is_closed(sock)


def test_websocket_echo_through_the_router(proxied):
    async def talk():
        async with websockets.connect(f"ws://{proxied.address}/ws") as ws:
            await ws.send("hello")
            text = await ws.recv()
            await ws.send(b"\x00\x01binary")
            data = await ws.recv()
            big = "x" * 200_000
            await ws.send(big)
            back = await ws.recv()
            return text, data, back == big

    text, data, big_ok = asyncio.run(talk())
    assert text == "hello"
    assert data == b"\x00\x01binary"
    assert big_ok


def test_curl_get_and_post(proxied):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        [curl, "-sS", "-D", "-", proxied.url("/")], capture_output=True, timeout=10, check=True
    ).stdout
    assert b"x-release: v1" in out.lower()
    out = subprocess.run(
        [curl, "-sS", "--data-binary", "@-", "-H", "Expect: 100-continue", proxied.url("/echo")],
        input=b"z" * 200_000,
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout
    assert out == b"z" * 200_000


def test_no_route_table_answers_503(router):
    r = httpx.get(router.url("/"))
    assert r.status_code == 503
    assert "no release" in r.text


def test_pool_without_instances_answers_503_naming_it(router):
    router.put_routes({"pools": {"v1": {"instances": []}}, "weights": {"v1": 100}})
    r = httpx.get(router.url("/"))
    assert r.status_code == 503
    assert "v1" in r.headers["x-turnout-error"]


def test_unreachable_only_instance_gives_502_after_retries(router):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    addr = f"127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there
    router.put_routes(one_pool(addr))
    r = httpx.get(router.url("/"))
    assert r.status_code == 502
    metrics = router.metrics()
    assert f'turnout_upstream_errors_total{{instance="{addr}",kind="connect",pool="v1"}}' in metrics


def test_router_survives_garbage_and_keeps_serving(proxied):
    for junk in (b"\x00\xff" * 100, b"GET / HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n", b"G" * 100_000):
        with connect(proxied.address) as sock:
            try:
                sock.sendall(junk)
                sock.settimeout(2)
                sock.recv(100)
            except OSError:
                pass
    assert httpx.get(proxied.url("/")).status_code == 200
    assert json.loads(proxied.admin("GET", "/v1/health").text)["status"] == "ok"
