"""HTTP/1.1 message rules for a reverse proxy: pure functions over a parsed head.

The router's protocol objects feed bytes to httptools (llhttp, strict mode) and
hand the parsed head to these functions, which decide everything a proxy must
decide and return the bytes to send. Nothing here touches a socket, so every
rule is unit-tested with plain values and fuzzed.

What llhttp already rejects (tested in tests/router/test_smuggling.py):
Content-Length together with Transfer-Encoding, duplicate or non-numeric
Content-Length, a Transfer-Encoding other than a final ``chunked``, bad chunk
sizes, obs-fold, bare LF, invalid header names and values. What is added here:
a missing/duplicate Host (RFC 9112 §3.2), Transfer-Encoding in HTTP/1.0 (RFC 9112
§6.1), HTTP versions other than 1.0/1.1, CONNECT, unknown expectations, and
upgrades to protocols other than the allowed ones (h2c through a proxy is a
known way around access rules).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BODY_CHUNKED",
    "BODY_EOF",
    "BODY_LENGTH",
    "BODY_NONE",
    "BadRequest",
    "RequestHead",
    "ResponseHead",
    "chunk",
    "error_response",
    "forward_request_head",
    "forward_response_head",
    "forward_switching_head",
]

BODY_NONE = 0  # no body
BODY_LENGTH = 1  # Content-Length bytes
BODY_CHUNKED = 2  # chunked transfer coding
BODY_EOF = 3  # until the connection closes (responses only)

# RFC 9110 §7.6.1 plus the legacy names proxies still see.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Headers the proxy sets itself on the way to the upstream.
_REQUEST_OWN = frozenset({b"x-forwarded-proto", b"x-forwarded-host"})
# Headers the request rules need to look at; everything else is copied through.
_REQUEST_SPECIAL = (
    HOP_BY_HOP
    | _REQUEST_OWN
    | {
        b"host",
        b"content-length",
        b"x-forwarded-for",
        b"via",
        b"expect",
        b"cookie",
        b"idempotency-key",
    }
)
_RESPONSE_SPECIAL = HOP_BY_HOP | {b"content-length"}

IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})

REASONS = {
    100: b"Continue",
    400: b"Bad Request",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    417: b"Expectation Failed",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}


class BadRequest(Exception):
    """The client broke the protocol; answer ``status`` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class RequestHead:
    """What the proxy decided about one request head."""

    method: bytes
    head: bytes  # the request head to send upstream, CRLFCRLF included
    body: int  # BODY_NONE / BODY_LENGTH / BODY_CHUNKED
    length: int  # Content-Length when body == BODY_LENGTH
    keep_alive: bool  # the client wants the connection kept after the response
    upgrade: bytes | None  # the protocol being upgraded to (lower-case), or None
    expect_continue: bool
    idempotent: bool  # safe to send twice (method, or an Idempotency-Key header)
    host: bytes
    cookie: bytes | None  # the Cookie header (joined), for sticky and cookie rules
    http10: bool


_SIMPLE_TOKENS = {
    b"close": [b"close"],
    b"keep-alive": [b"keep-alive"],
    b"upgrade": [b"upgrade"],
}


def _tokens(value: bytes) -> list[bytes]:
    simple = _SIMPLE_TOKENS.get(value.lower())
    if simple is not None:
        return simple
    return [t.strip().lower() for t in value.split(b",") if t.strip()]


def _origin_form(target: bytes) -> tuple[bytes, bytes | None]:
    """An absolute-form target becomes origin-form plus its authority (RFC 9112 §3.2.2)."""
    if target[:1] == b"/":
        return target, None
    lower = target[:8].lower()
    if lower.startswith((b"http://", b"https://")):
        rest = target.split(b"://", 1)[1]
        slash = rest.find(b"/")
        if slash < 0:
            return b"/", rest
        return rest[slash:], rest[:slash]
    return target, None


# Only names of these lengths can be special: most headers skip the lower() call.
_REQUEST_LENGTHS = frozenset(len(n) for n in _REQUEST_SPECIAL)
_RESPONSE_LENGTHS = frozenset(len(n) for n in _RESPONSE_SPECIAL)


def forward_request_head(
    method: bytes,
    version: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    client_ip: bytes,
    proto: bytes,
    via: bytes = b"1.1 turnout",
    upgrades: frozenset[bytes] = frozenset({b"websocket"}),
) -> RequestHead:
    """Check a request head and build the head to send upstream.

    Removes hop-by-hop headers (and those the Connection header names), appends
    the client to X-Forwarded-For and the proxy to Via, sets X-Forwarded-Proto and
    X-Forwarded-Host, and re-declares the body framing. Raises ``BadRequest``.
    """
    if version == "1.1":
        http10 = False
    elif version == "1.0":
        http10 = True
    else:
        raise BadRequest(505, f"HTTP/{version} is not supported")
    if method == b"CONNECT":
        raise BadRequest(405, "CONNECT is not supported by a reverse proxy")

    out: list[bytes] = []  # name, ": ", value, CRLF, name, ...
    host: bytes | None = None
    length = -1
    chunked = False
    conn_tokens: list[bytes] = []
    upgrade_value: bytes | None = None
    xff: bytes | None = None
    via_in: bytes | None = None
    expect = False
    cookies: list[bytes] = []
    idem_key = False
    special = _REQUEST_SPECIAL
    lengths = _REQUEST_LENGTHS
    for name, value in headers:
        if len(name) not in lengths:
            out += (name, b": ", value, b"\r\n")
            continue
        lname = name.lower()
        if lname not in special:
            out += (name, b": ", value, b"\r\n")
        elif lname == b"host":
            if host is not None:
                raise BadRequest(400, "more than one Host header")
            host = value
        elif lname == b"content-length":
            length = int(value)  # llhttp already checked: digits, not duplicated
            out += (name, b": ", value, b"\r\n")
        elif lname == b"transfer-encoding":
            chunked = True  # llhttp accepts only a final "chunked" in requests
        elif lname == b"connection":
            conn_tokens += _tokens(value)
        elif lname == b"upgrade":
            upgrade_value = value
        elif lname == b"x-forwarded-for":
            xff = value if xff is None else xff + b", " + value
        elif lname == b"via":
            via_in = value if via_in is None else via_in + b", " + value
        elif lname == b"expect":
            if value.strip().lower() != b"100-continue":
                raise BadRequest(417, f"unsupported expectation {value.decode('latin-1')!r}")
            expect = True
            out += (name, b": ", value, b"\r\n")
        elif lname == b"cookie":
            cookies.append(value)
            out += (name, b": ", value, b"\r\n")
        elif lname == b"idempotency-key":
            idem_key = True
            out += (name, b": ", value, b"\r\n")
        # the remaining hop-by-hop and own headers are dropped

    if host is None:
        if not http10:
            raise BadRequest(400, "HTTP/1.1 request without a Host header")
        host = b""
    if chunked and http10:
        raise BadRequest(400, "Transfer-Encoding in an HTTP/1.0 request")

    target, authority = _origin_form(target)
    if authority is not None:
        host = authority

    if conn_tokens:
        # Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
        drop = {t for t in conn_tokens if t not in (b"close", b"keep-alive", b"upgrade")}
        if drop:
            out = _without(out, drop)
        keep_alive = b"keep-alive" in conn_tokens if http10 else b"close" not in conn_tokens
    else:
        keep_alive = not http10

    upgrade: bytes | None = None
    if upgrade_value is not None and b"upgrade" in conn_tokens:
        proto_name = upgrade_value.split(b"/", 1)[0].strip().lower()
        if proto_name in upgrades:
            upgrade = proto_name

    xff = xff + b", " + client_ip if xff is not None else client_ip
    head = [method, b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n", *out]
    head += (b"X-Forwarded-For: ", xff, b"\r\nX-Forwarded-Proto: ", proto, b"\r\n")
    if host:
        head += (b"X-Forwarded-Host: ", host, b"\r\n")
    head += (b"Via: ", via_in + b", " + via if via_in is not None else via, b"\r\n")
    if chunked:
        body = BODY_CHUNKED
        head.append(b"Transfer-Encoding: chunked\r\n")
    elif length > 0:
        body = BODY_LENGTH
    else:
        body = BODY_NONE
    if upgrade is not None:
        assert upgrade_value is not None
        head += (b"Connection: upgrade\r\nUpgrade: ", upgrade_value, b"\r\n\r\n")
    else:
        head.append(b"\r\n")
    return RequestHead(
        method,
        b"".join(head),
        body,
        max(length, 0),
        keep_alive,
        upgrade,
        expect,
        method in IDEMPOTENT_METHODS or idem_key,
        host,
        b"; ".join(cookies) if cookies else None,
        http10,
    )


def _without(pieces: list[bytes], names: set[bytes]) -> list[bytes]:
    """``pieces`` (name, ": ", value, CRLF, ...) minus the headers in ``names``."""
    out: list[bytes] = []
    for i in range(0, len(pieces), 4):
        if pieces[i].lower() not in names:
            out += pieces[i : i + 4]
    return out


@dataclass(slots=True)
class ResponseHead:
    head: bytes  # the head to send to the client
    body: int  # framing of the body as it arrives from the upstream
    client_body: int  # framing of the body as sent to the client
    reusable: bool  # the upstream connection may carry another request afterwards
    close_client: bool  # close the client connection after this response


_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}


def _status_line(status: int, reason: bytes) -> bytes:
    line = _STATUS_LINES.get((status, reason))
    if line is None:
        line = b"HTTP/1.1 %d %b\r\n" % (status, reason)
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[(status, reason)] = line
    return line


def forward_response_head(
    status: int,
    reason: bytes,
    upstream_http10: bool,
    headers: list[tuple[bytes, bytes]],
    request_method: bytes,
    client_http10: bool,
    client_keep_alive: bool,
    extra: bytes = b"",
) -> ResponseHead:
    """Build the client-side head of an upstream response and decide both framings.

    ``extra`` is pre-formatted header lines the proxy adds (e.g. a sticky cookie).
    A body with neither Content-Length nor chunked coding is re-chunked for
    HTTP/1.1 clients and delimited by closing the connection for HTTP/1.0 ones.
    """
    out: list[bytes] = [_status_line(status, reason)]
    length = -1
    length_value = b""
    chunked = False
    conn_tokens: list[bytes] = []
    special = _RESPONSE_SPECIAL
    lengths = _RESPONSE_LENGTHS
    for name, value in headers:
        if len(name) not in lengths:
            out += (name, b": ", value, b"\r\n")
            continue
        lname = name.lower()
        if lname not in special:
            out += (name, b": ", value, b"\r\n")
        elif lname == b"content-length":
            length = int(value)
            length_value = value
        elif lname == b"transfer-encoding":
            chunked = value.rstrip().lower().endswith(b"chunked")
        elif lname == b"connection":
            conn_tokens += _tokens(value)

    if conn_tokens:
        drop = {t for t in conn_tokens if t not in (b"close", b"keep-alive")}
        if drop:
            out = [out[0], *_without(out[1:], drop)]

    if request_method == b"HEAD" or status < 200 or status in (204, 304):
        body = BODY_NONE
    elif chunked:
        body = BODY_CHUNKED
    elif length >= 0:
        body = BODY_LENGTH
    else:
        body = BODY_EOF

    if upstream_http10:
        reusable = b"keep-alive" in conn_tokens and body != BODY_EOF
    else:
        reusable = b"close" not in conn_tokens and body != BODY_EOF
    if (
        body == BODY_NONE
        and request_method == b"HEAD"
        and status >= 200
        and status not in (204, 304)
        and (chunked or length != 0)
    ):
        # The response parser cannot be told the request was HEAD and would wait
        # for the body the headers announce: never reuse such a connection.
        reusable = False

    close_client = not client_keep_alive
    if body == BODY_LENGTH or (length >= 0 and body == BODY_NONE and status >= 200):
        client_body = body
        out += (b"Content-Length: ", length_value, b"\r\n")
    elif body == BODY_NONE:
        client_body = BODY_NONE
    elif client_http10:
        client_body = BODY_EOF
        close_client = True
    else:
        client_body = BODY_CHUNKED
        out.append(b"Transfer-Encoding: chunked\r\n")

    if close_client:
        out.append(b"Connection: close\r\n")
    elif client_http10:
        out.append(b"Connection: keep-alive\r\n")
    if extra:
        out.append(extra)
    out.append(b"\r\n")
    return ResponseHead(b"".join(out), body, client_body, reusable, close_client)


def forward_switching_head(reason: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client-side head of a ``101 Switching Protocols``: its Connection and
    Upgrade headers belong to the switch and are kept."""
    lines = [name + b": " + value + b"\r\n" for name, value in headers]
    return b"HTTP/1.1 101 " + reason + b"\r\n" + b"".join(lines) + b"\r\n"


def chunk(data: bytes) -> bytes:
    """One chunk of the chunked transfer coding."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_response(status: int, message: str, close: bool, extra: bytes = b"") -> bytes:
    """A small plain-text response the proxy writes itself (4xx/5xx)."""
    body = (message + "\n").encode("utf-8", "replace")
    reason = REASONS.get(status, b"Error")
    head = (
        b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
        % (status, reason, len(body))
    )
    if close:
        head += b"Connection: close\r\n"
    return head + extra + b"\r\n" + body
