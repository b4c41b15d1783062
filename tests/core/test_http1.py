"""The proxy's HTTP/1.1 rules, on plain values."""

from __future__ import annotations

import pytest

from turnout.core.http1 import (
    BODY_CHUNKED,
    BODY_EOF,
    BODY_LENGTH,
    BODY_NONE,
    BadRequest,
    chunk,
    error_response,
    forward_request_head,
    forward_response_head,
    forward_switching_head,
)


def fwd(headers, method=b"GET", version="1.1", target=b"/p?q=1", ip=b"10.0.0.7", proto=b"http"):
    return forward_request_head(method, version, target, headers, ip, proto)


def head_lines(head: bytes) -> list[bytes]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].split(b"\r\n")


def test_request_line_host_and_forwarding_headers():
    req = fwd([(b"Host", b"shop.example"), (b"Accept", b"*/*")])
    lines = head_lines(req.head)
    assert lines[0] == b"GET /p?q=1 HTTP/1.1"
    assert b"Host: shop.example" in lines
    assert b"Accept: */*" in lines
    assert b"X-Forwarded-For: 10.0.0.7" in lines
    assert b"X-Forwarded-Proto: http" in lines
    assert b"X-Forwarded-Host: shop.example" in lines
    assert b"Via: 1.1 turnout" in lines
    assert req.keep_alive and req.body == BODY_NONE and req.idempotent


def test_existing_forwarded_for_and_via_are_appended_and_own_headers_replaced():
    req = fwd(
        [
            (b"Host", b"a"),
            (b"X-Forwarded-For", b"1.1.1.1"),
            (b"X-Forwarded-For", b"2.2.2.2"),
            (b"Via", b"1.0 edge"),
            (b"X-Forwarded-Proto", b"https"),
            (b"X-Forwarded-Host", b"evil"),
        ]
    )
    lines = head_lines(req.head)
    assert b"X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.7" in lines
    assert b"Via: 1.0 edge, 1.1 turnout" in lines
    assert b"X-Forwarded-Proto: http" in lines
    assert b"X-Forwarded-Proto: https" not in lines
    assert b"X-Forwarded-Host: a" in lines and b"X-Forwarded-Host: evil" not in lines


def test_hop_by_hop_headers_and_those_named_in_connection_are_removed():
    req = fwd(
        [
            (b"Host", b"a"),
            (b"Connection", b"keep-alive, X-Secret"),
            (b"Keep-Alive", b"timeout=5"),
            (b"TE", b"trailers"),
            (b"Trailer", b"X-T"),
            (b"Proxy-Connection", b"keep-alive"),
            (b"X-Secret", b"1"),
            (b"X-Kept", b"2"),
        ]
    )
    names = {line.split(b":")[0].lower() for line in head_lines(req.head)[1:]}
    for gone in (b"connection", b"keep-alive", b"te", b"trailer", b"proxy-connection", b"x-secret"):
        assert gone not in names
    assert b"x-kept" in names


def test_content_length_body_is_declared_and_chunked_is_re_declared():
    req = fwd([(b"Host", b"a"), (b"Content-Length", b"5")], method=b"POST")
    assert req.body == BODY_LENGTH and req.length == 5
    assert b"Content-Length: 5" in head_lines(req.head)
    assert not req.idempotent
    req = fwd([(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")], method=b"POST")
    assert req.body == BODY_CHUNKED
    assert head_lines(req.head).count(b"Transfer-Encoding: chunked") == 1


def test_idempotency_key_makes_a_post_retryable():
    req = fwd([(b"Host", b"a"), (b"Idempotency-Key", b"k1")], method=b"POST")
    assert req.idempotent
    assert b"Idempotency-Key: k1" in head_lines(req.head)


@pytest.mark.parametrize(
    ("headers", "version", "method", "status"),
    [
        ([], "1.1", b"GET", 400),  # no Host
        ([(b"Host", b"a"), (b"Host", b"b")], "1.1", b"GET", 400),
        ([(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")], "1.0", b"POST", 400),
        ([(b"Host", b"a")], "2.0", b"GET", 505),
        ([(b"Host", b"a")], "0.9", b"GET", 505),
        ([(b"Host", b"a")], "1.1", b"CONNECT", 405),
        ([(b"Host", b"a"), (b"Expect", b"something-else")], "1.1", b"GET", 417),
    ],
)
def test_rejected_heads(headers, version, method, status):
    with pytest.raises(BadRequest) as info:
        fwd(headers, version=version, method=method)
    assert info.value.status == status


def test_http10_without_host_is_allowed_and_not_kept_alive_by_default():
    req = fwd([], version="1.0")
    assert req.http10 and not req.keep_alive
    req = fwd([(b"Connection", b"keep-alive")], version="1.0")
    assert req.keep_alive


def test_connection_close_ends_keep_alive():
    assert not fwd([(b"Host", b"a"), (b"Connection", b"close")]).keep_alive


def test_absolute_form_target_becomes_origin_form_with_its_authority_as_host():
    req = fwd([(b"Host", b"ignored")], target=b"http://shop.example:8080/cart?x=1")
    lines = head_lines(req.head)
    assert lines[0] == b"GET /cart?x=1 HTTP/1.1"
    assert b"Host: shop.example:8080" in lines


def test_websocket_upgrade_is_forwarded_and_h2c_is_not():
    ws = fwd([(b"Host", b"a"), (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")])
    assert ws.upgrade == b"websocket"
    lines = head_lines(ws.head)
    assert b"Connection: upgrade" in lines and b"Upgrade: websocket" in lines
    h2c = fwd([(b"Host", b"a"), (b"Connection", b"Upgrade, HTTP2-Settings"), (b"Upgrade", b"h2c")])
    assert h2c.upgrade is None
    assert not any(line.lower().startswith(b"upgrade") for line in head_lines(h2c.head))


def test_expect_continue_is_forwarded():
    req = fwd(
        [(b"Host", b"a"), (b"Expect", b"100-continue"), (b"Content-Length", b"3")], method=b"PUT"
    )
    assert req.expect_continue
    assert b"Expect: 100-continue" in head_lines(req.head)


def test_cookie_headers_are_joined_for_routing():
    req = fwd([(b"Host", b"a"), (b"Cookie", b"a=1"), (b"Cookie", b"b=2")])
    assert req.cookie == b"a=1; b=2"


def resp(status=200, headers=(), method=b"GET", up10=False, c10=False, keep=True, extra=b""):
    return forward_response_head(status, b"OK", up10, list(headers), method, c10, keep, extra)


def test_response_with_length_is_passed_through_and_connection_reusable():
    r = resp(headers=[(b"Content-Length", b"2"), (b"X-Release", b"v1")])
    assert r.body == BODY_LENGTH and r.client_body == BODY_LENGTH and r.reusable
    assert not r.close_client
    lines = head_lines(r.head)
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"Content-Length: 2" in lines and b"X-Release: v1" in lines


def test_close_delimited_response_is_rechunked_for_http11_and_closed_for_http10():
    r = resp(headers=[])
    assert r.body == BODY_EOF and r.client_body == BODY_CHUNKED and not r.reusable
    assert b"Transfer-Encoding: chunked" in head_lines(r.head)
    r10 = resp(headers=[], c10=True, keep=True)
    assert r10.client_body == BODY_EOF and r10.close_client
    assert b"Connection: close" in head_lines(r10.head)


def test_chunked_response_stays_chunked_and_hop_by_hop_removed():
    r = resp(
        headers=[
            (b"Transfer-Encoding", b"chunked"),
            (b"Connection", b"keep-alive, X-Internal"),
            (b"X-Internal", b"1"),
            (b"Keep-Alive", b"timeout=5"),
        ]
    )
    assert r.body == BODY_CHUNKED and r.client_body == BODY_CHUNKED and r.reusable
    names = [line.split(b":")[0].lower() for line in head_lines(r.head)[1:]]
    assert names.count(b"transfer-encoding") == 1
    assert b"x-internal" not in names and b"keep-alive" not in names and b"connection" not in names


def test_upstream_connection_close_makes_the_connection_not_reusable():
    assert not resp(headers=[(b"Content-Length", b"0"), (b"Connection", b"close")]).reusable
    assert not resp(headers=[(b"Content-Length", b"0")], up10=True).reusable
    assert resp(
        headers=[(b"Content-Length", b"0"), (b"Connection", b"keep-alive")], up10=True
    ).reusable


def test_head_response_keeps_its_length_but_has_no_body_and_is_not_reused():
    r = resp(headers=[(b"Content-Length", b"1234")], method=b"HEAD")
    assert r.body == BODY_NONE and r.client_body == BODY_NONE
    assert b"Content-Length: 1234" in head_lines(r.head)
    assert not r.reusable  # the parser would wait for 1234 bytes that never come
    assert resp(headers=[(b"Content-Length", b"0")], method=b"HEAD").reusable


def test_204_and_304_have_no_body():
    assert resp(status=204).body == BODY_NONE
    assert resp(status=304, headers=[(b"Content-Length", b"9")]).body == BODY_NONE


def test_client_without_keep_alive_gets_connection_close_and_extra_lines():
    r = resp(headers=[(b"Content-Length", b"0")], keep=False, extra=b"Set-Cookie: s=1\r\n")
    lines = head_lines(r.head)
    assert r.close_client and b"Connection: close" in lines and b"Set-Cookie: s=1" in lines


def test_switching_head_keeps_upgrade_headers():
    head = forward_switching_head(
        b"Switching Protocols", [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]
    )
    assert head == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )


def test_chunk_and_error_response_encoding():
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    raw = error_response(502, "the upstream failed (connect)", True)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"Connection: close" in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
