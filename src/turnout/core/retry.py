"""When a failed attempt may be replayed on another instance. Pure policy.

A request that never reached an upstream is always retried elsewhere, whatever
its method: the connection was refused or timed out, or a pooled keep-alive
connection turned out to have been closed by the upstream before it answered
(the race every HTTP/1.1 client has with server idle timeouts). A fresh
connection reset before any response byte is retried only for idempotent
requests (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or a request
carrying an ``Idempotency-Key``), and only when configured. Nothing is retried
once a response byte arrived, nor when part of the request body was sent and is
no longer held in the replay buffer.
"""

from __future__ import annotations

CONNECT = "connect"  # refused, unreachable, or the connect timed out
RESET = "reset"  # the connection closed or reset before the response ended
TIMEOUT = "timeout"  # no response (or no progress) within the timeout
PROTOCOL = "protocol"  # the upstream sent something that is not HTTP/1.1


def may_retry(
    kind: str,
    *,
    reused: bool,
    response_began: bool,
    idempotent: bool,
    retry_on_reset: bool,
    body_replayable: bool,
) -> bool:
    if response_began or not body_replayable:
        return False
    if kind == CONNECT:
        return True
    if kind == RESET:
        return reused or (idempotent and retry_on_reset)
    return False
