"""Weights, sticky cookies and header/cookie rules, observed from real requests."""

from __future__ import annotations

import httpx

from support.router import one_pool
from support.system import free_port


def two_pools(a, b, wa, wb, **extra):
    return {
        "pools": {"a": {"instances": [a.address]}, "b": {"instances": [b.address]}},
        "weights": {"a": wa, "b": wb},
        **extra,
    }


def test_weights_split_requests(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(two_pools(a, b, 80, 20))
    with httpx.Client() as c:
        for _ in range(1000):
            c.get(router.url("/"))
    assert len(a.requests) + len(b.requests) == 1000
    assert 700 < len(a.requests) < 880  # 800 expected; 5 sigma is ~63


def test_zero_weight_pool_gets_nothing(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(two_pools(a, b, 100, 0))
    with httpx.Client() as c:
        for _ in range(100):
            c.get(router.url("/"))
    assert len(a.requests) == 100 and not b.requests


def test_sticky_client_keeps_its_pool(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(two_pools(a, b, 50, 50, sticky={"cookie": "sid", "max_age": "1h"}))
    seen_pools = set()
    for _ in range(20):
        with httpx.Client() as c:  # a new client: new cookie
            first = c.get(router.url("/"))
            assert "sid=" in first.headers["set-cookie"]
            assert "Max-Age=3600" in first.headers["set-cookie"]
            marks = (len(a.requests), len(b.requests))
            for _ in range(10):
                r = c.get(router.url("/"))
                assert "set-cookie" not in r.headers  # assigned once
            after = (len(a.requests), len(b.requests))
            # All ten follow-ups went to the same pool.
            assert (after[0] - marks[0], after[1] - marks[1]) in ((10, 0), (0, 10))
            seen_pools.add(after[0] - marks[0] == 10)
    assert seen_pools == {True, False}  # both pools got clients


def test_growing_weight_only_moves_sticky_clients_onto_the_growing_pool(router, recorder_factory):
    canary, stable = recorder_factory(), recorder_factory()
    table = lambda w: {  # noqa: E731
        "pools": {
            "canary": {"instances": [canary.address]},
            "stable": {"instances": [stable.address]},
        },
        "weights": {"canary": w, "stable": 100 - w},
        "sticky": {"cookie": "sid"},
    }
    router.put_routes(table(10))
    clients = [httpx.Client() for _ in range(200)]
    try:

        def where(c):
            before = len(canary.requests)
            c.get(router.url("/"))
            return "canary" if len(canary.requests) > before else "stable"

        at10 = [where(c) for c in clients]
        router.put_routes(table(50))
        at50 = [where(c) for c in clients]
    finally:
        for c in clients:
            c.close()
    assert all(
        p == "canary" for p, q in zip(at10, at50, strict=True) if p == "canary" and q == "canary"
    )
    assert not any(p == "canary" and q == "stable" for p, q in zip(at10, at50, strict=True))
    assert at10.count("canary") < at50.count("canary")


def test_header_rule_pins_to_a_zero_weight_pool(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(
        two_pools(a, b, 100, 0, rules=[{"header": "X-Turnout-Pool", "equals": "b", "pool": "b"}])
    )
    assert httpx.get(router.url("/"), headers={"x-turnout-pool": "b"}).status_code == 200
    assert len(b.requests) == 1 and not a.requests
    httpx.get(router.url("/"), headers={"x-turnout-pool": "other"})
    assert len(a.requests) == 1


def test_cookie_rule_and_presence_match(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(two_pools(a, b, 100, 0, rules=[{"cookie": "preview", "pool": "b"}]))
    httpx.get(router.url("/"), headers={"cookie": "x=1; preview=anything"})
    assert len(b.requests) == 1
    httpx.get(router.url("/"), headers={"cookie": "x=1"})
    assert len(a.requests) == 1


def test_pinned_pool_without_instance_is_503_not_another_release(router, recorder_factory):
    a = recorder_factory()
    router.put_routes(
        {
            "pools": {"a": {"instances": [a.address]}, "preview": {"instances": []}},
            "weights": {"a": 100},
            "rules": [{"header": "x-preview", "pool": "preview"}],
        }
    )
    r = httpx.get(router.url("/"), headers={"x-preview": "1"})
    assert r.status_code == 503 and "preview" in r.headers["x-turnout-error"]
    assert not a.requests


def test_in_flight_request_finishes_where_it_started(router, demo_factory):
    v1, v2 = demo_factory(release="v1"), demo_factory(release="v2")
    router.put_routes(one_pool(v1.address, name="v1"))
    with (
        httpx.Client(timeout=10) as c,
        httpx.stream(
            "GET", router.url("/stream?chunks=6&interval_ms=200&size=10"), timeout=10
        ) as slow,
    ):
        router.put_routes(one_pool(v2.address, name="v2"))
        assert c.get(router.url("/")).headers["x-release"] == "v2"
        assert slow.headers["x-release"] == "v1"
        assert len(slow.read()) == 60


def test_cohort_header_labels_request_and_response_with_the_serving_pool(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(
        two_pools(a, b, 50, 50, sticky={"cookie": "uid"}, cohort_header="x-turnout-cohort")
    )
    seen = set()
    for _ in range(20):
        with httpx.Client() as c:
            for _ in range(3):
                r = c.get(router.url("/"))
                seen.add(r.headers["x-turnout-cohort"])
    assert seen == {"a", "b"}
    assert all(req.header(b"x-turnout-cohort") == b"a" for req in a.requests)
    assert all(req.header(b"x-turnout-cohort") == b"b" for req in b.requests)
    assert len(a.requests) + len(b.requests) == 60


def test_cohort_label_follows_a_retry_into_another_pool(router, recorder_factory):
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: every connect is refused
    b = recorder_factory()
    table = {
        "pools": {"a": {"instances": [dead]}, "b": {"instances": [b.address]}},
        "weights": {"a": 50, "b": 50},
        "sticky": {"cookie": "uid"},
        "cohort_header": "x-turnout-cohort",
    }
    router.put_routes(table)
    for _ in range(20):
        with httpx.Client() as c:
            r = c.get(router.url("/"))
            assert r.status_code == 200 and r.headers["x-turnout-cohort"] == "b"
            assert r.cookies.get("uid")
    assert all(req.header(b"x-turnout-cohort") == b"b" for req in b.requests)
    assert len(b.requests) == 20
    retried = [
        float(line.rsplit(" ", 1)[1])
        for line in router.metrics().splitlines()
        if line.startswith("turnout_retries_total{") and dead in line
    ]
    assert retried and retried[0] >= 1  # some requests were first sent to pool a
