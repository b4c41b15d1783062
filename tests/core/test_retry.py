"""Which failed attempts may be replayed on another instance."""

from __future__ import annotations

from turnout.core.retry import CONNECT, PROTOCOL, RESET, TIMEOUT, may_retry


def decide(kind, **kw):
    args = {
        "reused": False, "response_began": False, "idempotent": False,
        "retry_on_reset": True, "body_replayable": True,
    }  # fmt: skip
    args.update(kw)
    return may_retry(kind, **args)


def test_connect_failures_are_always_retried_even_for_post():
    assert decide(CONNECT)


def test_stale_pooled_connection_is_retried_whatever_the_method():
    assert decide(RESET, reused=True)


def test_reset_on_fresh_connection_is_retried_only_when_idempotent_and_enabled():
    assert not decide(RESET)
    assert decide(RESET, idempotent=True)
    assert not decide(RESET, idempotent=True, retry_on_reset=False)


def test_nothing_is_retried_once_the_response_began_or_the_body_is_gone():
    assert not decide(RESET, reused=True, response_began=True)
    assert not decide(CONNECT, body_replayable=False)


def test_timeouts_and_protocol_errors_are_not_retried():
    assert not decide(TIMEOUT, idempotent=True)
    assert not decide(PROTOCOL, idempotent=True, reused=True)
