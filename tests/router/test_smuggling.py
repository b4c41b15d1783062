"""Requests that could smuggle a second request past the router are refused with
400 and the connection is closed; the upstream never sees what was smuggled.
Random bytes never crash the router (hypothesis)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.recorder import Recorder
from support.router import one_pool, start_router

from .rawhttp import connect, is_closed, read_responses

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"

CASES = {
    "CL then TE": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    + SMUGGLED,
    "TE then CL": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "duplicate CL, different": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"
    + SMUGGLED,
    "duplicate CL, same": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "CL list": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc",
    "CL with sign": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
    "chunk size not hex": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "chunk size negative": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    "chunk size overflow": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff3\r\nabc\r\n0\r\n\r\n",
    "chunk size with space": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
    "chunk with bare LF": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    "TE not chunked last": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "TE xchunked": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "TE twice": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE in HTTP/1.0": b"POST / HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n",
    "obs-fold on TE": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "bare LF request line": b"GET / HTTP/1.1\nHost: t\n\n",
    "bare LF header": b"GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n",
    "space in name": b"GET / HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n",
    "control char in name": b"GET / HTTP/1.1\r\nHost: t\r\nX\x01A: b\r\n\r\n",
    "NUL in value": b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
    "CR in value": b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
    "missing Host": b"GET / HTTP/1.1\r\n\r\n",
    "two Hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
}


@pytest.fixture
def guarded(router, recorder):
    router.put_routes(one_pool(recorder.address))
    return router


@pytest.mark.parametrize("raw", list(CASES.values()), ids=list(CASES))
def test_smuggling_prone_request_is_rejected_and_connection_closed(guarded, recorder, raw):
    with connect(guarded.address) as sock:
        sock.sendall(raw)
        responses, eof = read_responses(sock, 1, timeout=5)
        assert responses, "no answer"
        assert responses[0].status in (400, 505)
        assert responses[0].header(b"connection") == b"close"
        assert eof or is_closed(sock)
    assert all(r.path != b"/smuggled" for r in recorder.requests)
    assert b"SMUGGLED" not in recorder.raw_bytes


def test_oversized_head_is_refused_with_431(guarded):
    raw = b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    with connect(guarded.address) as sock:
        sock.sendall(raw)
        responses, _ = read_responses(sock, 1)
    assert responses[0].status == 431


def test_too_many_headers_is_refused_with_431(guarded):
    raw = (
        b"GET / HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
        + b"\r\n"
    )
    responses, _ = _send(guarded.address, raw)
    assert responses[0].status == 431


def test_body_over_the_limit_is_refused_with_413_before_it_is_sent(
    router_factory, recorder, tmp_path
):
    config = tmp_path / "router.toml"
    config.write_text("[router]\nmax_body_bytes = 1000\n")
    r = router_factory(config=config)
    r.put_routes(one_pool(recorder.address))
    responses, _ = _send(
        r.address, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000
    )
    assert responses[0].status == 413
    assert recorder.requests == []
    chunked = (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"400\r\n" + b"a" * 1024 + b"\r\n") * 3
        + b"0\r\n\r\n"
    )
    responses, _ = _send(r.address, chunked)
    assert responses[0].status == 413


def test_slow_head_times_out_with_408(router_factory, recorder, tmp_path):
    config = tmp_path / "router.toml"
    config.write_text('[router]\nheader_timeout = "1s"\n')
    r = router_factory(config=config)
    r.put_routes(one_pool(recorder.address))
    with connect(r.address) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
        start = time.monotonic()
        responses, _ = read_responses(sock, 1, timeout=5)
    assert responses[0].status == 408
    assert time.monotonic() - start < 3


def test_valid_request_after_rejections_still_works(guarded):
    for raw in list(CASES.values())[:5]:
        _send(guarded.address, raw)
    assert httpx.get(guarded.url("/")).status_code == 200


def _send(address: str, raw: bytes):
    with connect(address) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass
        return read_responses(sock, 1, timeout=5)


# --- fuzzing ----------------------------------------------------------------------------------

_VALID = [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
]


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(st.sampled_from(_VALID)) * draw(st.integers(1, 2)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "splice"]))
        pos = draw(st.integers(0, len(base)))
        if op == "flip" and pos < len(base):
            base[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            base[pos:pos] = draw(
                st.sampled_from([b"\r\n", b"\n", b":", b" ", b"\x00", b"Content-Length: 9\r\n",
                                 b"Transfer-Encoding: chunked\r\n", b"ffffffff\r\n", b"0\r\n\r\n"])
            )  # fmt: skip
        elif op == "delete":
            del base[pos : pos + draw(st.integers(1, 8))]
        else:
            base[pos:pos] = draw(st.binary(max_size=40))
    return bytes(base)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    recorder = Recorder().start()
    r = start_router(tmp_path_factory.mktemp("fuzz"))
    r.put_routes(one_pool(recorder.address))
    yield r
    r.kill()
    recorder.stop()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.one_of(mutated_requests(), st.binary(min_size=1, max_size=300)))
def test_fuzzed_bytes_never_crash_the_router(fuzz_target, raw):
    with connect(fuzz_target.address, timeout=2) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(2)
            while sock.recv(65536):
                pass
        except OSError:
            pass
    assert fuzz_target.alive, fuzz_target.output()


def test_router_still_serves_after_fuzzing(fuzz_target):
    assert fuzz_target.alive
    r = httpx.get(fuzz_target.url("/"))
    assert r.status_code == 200
    log = fuzz_target.output()
    assert "Traceback" not in log and "Exception in callback" not in log, log
