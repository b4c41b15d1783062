"""What the HTTP clients put on the wire, and the rate limit."""

from __future__ import annotations

import re

from support.apps import DemoProcess
from turnout.demo.content import pattern
from turnout.harness import KeepAliveClients, LoadRunner, LoadSpec, Mix, PostClients
from turnout.harness.requests import GetRequests, PostRequests


def test_get_requests_are_fixed_bytes() -> None:
    keepalive = GetRequests("/", "127.0.0.1:80", {"x-turnout-pool": "v2"}, 5, close=False)
    assert keepalive.next().data == (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\nx-turnout-pool: v2\r\n\r\n"
    )
    fresh = GetRequests("/healthz", "127.0.0.1:80", {}, 5, close=True).next().data
    assert fresh.endswith(b"Connection: close\r\n\r\n")


def test_posts_alternate_framing_and_carry_distinct_idempotency_keys() -> None:
    posts = PostRequests(PostClients(body_bytes=100), "h:1", {}, 5, "k")
    first, second = posts.next().data, posts.next().data
    assert b"Content-Length: 100\r\n" in first and first.endswith(pattern(0, 100))
    assert b"Transfer-Encoding: chunked\r\n" in second and second.endswith(b"0\r\n\r\n")
    keys = re.findall(rb"Idempotency-Key: (\S+)", first + second)
    assert keys == [b"k-0", b"k-1"]
    plain = PostRequests(PostClients(idempotency_key=False), "h:1", {}, 5, "k").next().data
    assert b"Idempotency-Key" not in plain


def test_chunked_body_decodes_to_the_body() -> None:
    posts = PostRequests(PostClients(body_bytes=1000, framing="chunked"), "h:1", {}, 5, "k")
    data = posts.next().data
    body, rest = b"", data.split(b"\r\n\r\n", 1)[1]
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    assert body == pattern(0, 1000)


def test_rate_limit_spaces_requests(demo_app: DemoProcess) -> None:
    mix = Mix(keepalive=KeepAliveClients(concurrency=4, rate=50))
    report = LoadRunner(LoadSpec(port=demo_app.port, duration_s=1.0, mix=mix)).start().wait()
    assert report.failed == 0
    assert 40 <= report.sent <= 55
