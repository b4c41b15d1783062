"""Misbehaving upstreams and clients: the router answers what it can, never crashes,
and other connections are unaffected."""

from __future__ import annotations

import signal
import socket
import threading
import time

import httpx

from support.router import one_pool

from .rawhttp import connect, read_responses


def test_stale_keep_alive_connections_closed_by_the_upstream_are_retried(router, recorder):
    # The upstream closes every connection right after answering, without saying so:
    # the router's pooled connection is dead by the next request. Nothing must fail.
    recorder.behaviour.close_after = True
    router.put_routes(one_pool(recorder.address))
    with httpx.Client() as c:
        codes = [c.post(router.url("/"), content=b"x" * 100).status_code for _ in range(200)]
    assert codes == [200] * 200
    assert len(recorder.requests) >= 200


def test_upstream_that_never_answers_gives_504(router_factory, recorder, tmp_path):
    config = tmp_path / "r.toml"
    config.write_text('[router]\nresponse_timeout = "1s"\n')
    r = router_factory(config=config)
    recorder.behaviour.hang = True
    r.put_routes(one_pool(recorder.address))
    start = time.monotonic()
    resp = httpx.get(r.url("/"), timeout=10)
    assert resp.status_code == 504
    assert 0.9 < time.monotonic() - start < 3
    assert len(recorder.requests) == 1  # a timeout is not retried: the app may be working on it


def test_upstream_garbage_gives_502(router, recorder):
    recorder.behaviour.raw = b"this is not http\r\n\r\n"
    router.put_routes(one_pool(recorder.address))
    resp = httpx.get(router.url("/"))
    assert resp.status_code == 502
    assert "protocol" in resp.headers["x-turnout-error"]


def test_reset_before_response_is_retried_for_get_not_for_post(router, recorder_factory):
    bad, good = recorder_factory(), recorder_factory()
    bad.behaviour.reset = True
    router.put_routes(
        one_pool(bad.address, good.address, passive={"consecutive_errors": 0})  # never eject
    )
    with httpx.Client() as c:
        gets = [c.get(router.url("/")).status_code for _ in range(30)]
        posts = [c.post(router.url("/"), content=b"data").status_code for _ in range(30)]
        keyed = [
            c.post(router.url("/"), content=b"d", headers={"Idempotency-Key": f"k{i}"}).status_code
            for i in range(30)
        ]
    assert gets == [200] * 30
    assert set(posts) <= {200, 502} and 502 in posts  # POSTs that reached `bad` are not replayed
    assert keyed == [200] * 30


def test_upstream_dying_mid_response_cuts_the_client_without_hurting_others(router, recorder):
    recorder.behaviour.raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial"
    recorder.behaviour.close_after = True
    router.put_routes(one_pool(recorder.address))
    with connect(router.address) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        responses, eof = read_responses(sock, 1, timeout=5)
    assert eof and responses and not responses[0].done  # truncated, and the client knows
    recorder.behaviour.raw = None
    recorder.behaviour.close_after = False
    assert httpx.get(router.url("/")).status_code == 200


def test_client_leaving_mid_request_frees_the_instance(router, demo_app):
    router.put_routes(one_pool(demo_app.address))
    for _ in range(5):
        with connect(router.address) as sock:
            sock.sendall(b"GET /slow?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.1)
    deadline = time.monotonic() + 3
    while router.instances()[demo_app.address]["in_flight"]:
        assert time.monotonic() < deadline, router.instances()
        time.sleep(0.05)
    assert "turnout_client_aborts_total 5.0" in router.metrics()


def test_slow_reader_does_not_stall_other_clients(router, demo_app):
    router.put_routes(one_pool(demo_app.address))
    sock = connect(router.address)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /bytes?n=50000000 HTTP/1.1\r\nHost: t\r\n\r\n")  # and never read it
    try:
        start = time.monotonic()
        with httpx.Client() as c:
            for _ in range(50):
                assert c.get(router.url("/")).status_code == 200
        assert time.monotonic() - start < 10
    finally:
        sock.close()


def test_max_connections_answers_503_beyond_the_limit(router_factory, recorder, tmp_path):
    config = tmp_path / "r.toml"
    config.write_text("[router]\nmax_connections = 3\n")
    r = router_factory(config=config)
    r.put_routes(one_pool(recorder.address))
    held = [connect(r.address) for _ in range(3)]
    try:
        time.sleep(0.2)
        with connect(r.address) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            responses, _ = read_responses(extra, 1)
        assert responses[0].status == 503
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    assert httpx.get(r.url("/")).status_code == 200


def test_sigterm_finishes_in_flight_requests_then_exits(router, demo_app):
    router.put_routes(one_pool(demo_app.address))
    result: dict[str, object] = {}

    def slow() -> None:
        r = httpx.get(router.url("/slow?ms=1500"), timeout=10)
        result["status"] = r.status_code
        result["connection"] = r.headers.get("connection")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    router.signal(signal.SIGTERM)
    time.sleep(0.2)
    refused = False
    try:
        socket.create_connection(("127.0.0.1", router.port), timeout=1).close()
    except OSError:
        refused = True
    t.join()
    assert result == {"status": 200, "connection": "close"}
    assert refused  # the listener closed at once; in-flight work went on
    assert router.process.wait(10) == 0
