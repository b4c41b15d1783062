"""Active and passive health, and draining, with real app processes."""

from __future__ import annotations

import threading
import time

import httpx

from support.router import one_pool

FAST = {"path": "/healthz", "interval": "100ms", "timeout": "1s", "rise": 1, "fall": 1}


def count_releases(router, n: int = 40) -> dict[str, int]:
    seen: dict[str, int] = {}
    with httpx.Client(timeout=10) as c:
        for _ in range(n):
            r = c.get(router.url("/"))
            assert r.status_code == 200, r.text
            seen[r.headers["x-release"]] = seen.get(r.headers["x-release"], 0) + 1
    return seen


def test_unhealthy_instance_gets_no_requests(router, demo_factory):
    good = demo_factory(release="good")
    bad = demo_factory("--never-healthy", release="bad", wait="listening")
    router.put_routes(one_pool(good.address, bad.address, health=FAST))
    router.wait_routable(good.address)
    time.sleep(0.5)  # several checks of the bad one have run
    view = router.instances()
    assert view[bad.address]["health"] == "unhealthy" and not view[bad.address]["routable"]
    assert "503" in view[bad.address]["last_check"]
    assert count_releases(router) == {"good": 40}


def test_instance_that_starts_draining_is_taken_out(router, demo_factory):
    a = demo_factory("--drain-ms", "3000", release="a")
    b = demo_factory(release="b")
    router.put_routes(one_pool(a.address, b.address, health=FAST))
    router.wait_routable(a.address, b.address)
    a.terminate()  # the app fails its health check at once, keeps serving for 3 s
    deadline = time.monotonic() + 3
    while router.instances()[a.address]["routable"]:
        assert time.monotonic() < deadline, "never taken out"
        time.sleep(0.05)
    assert count_releases(router) == {"b": 40}


def test_new_instance_gets_traffic_only_after_rise_checks(router, demo_factory):
    a = demo_factory(release="a")
    router.put_routes(one_pool(a.address, health={**FAST, "rise": 3, "interval": "300ms"}))
    view = router.instances()[a.address]
    assert view["health"] == "unknown" and not view["routable"]
    assert httpx.get(router.url("/")).status_code == 503
    router.wait_routable(a.address, timeout=5)
    assert httpx.get(router.url("/")).status_code == 200


def test_wait_healthy_refuses_a_table_whose_instances_never_become_healthy(router, demo_factory):
    old = demo_factory(release="old")
    new = demo_factory("--never-healthy", release="new", wait="listening")
    g = router.put_routes(one_pool(old.address, name="old"))
    r = router.admin(
        "PUT", "/v1/routes", params={"wait_healthy": "1s"},
        json=one_pool(new.address, name="new", health=FAST),
    )  # fmt: skip
    assert r.status_code == 409
    assert new.address in r.json()["error"] and "live table is unchanged" in r.json()["error"]
    assert router.routes()["generation"] == g
    assert new.address not in router.instances()
    assert count_releases(router, 10) == {"old": 10}


def test_wait_healthy_switches_once_the_new_instances_pass(router, demo_factory):
    old = demo_factory(release="old")
    new = demo_factory(release="new")
    router.put_routes(one_pool(old.address, name="old"))
    r = router.admin(
        "PUT", "/v1/routes", params={"wait_healthy": "5s"},
        json=one_pool(new.address, name="new", health={**FAST, "rise": 2}),
    )  # fmt: skip
    assert r.status_code == 200
    assert count_releases(router, 10) == {"new": 10}


def test_killed_instance_is_ejected_and_its_requests_retried(router, demo_factory):
    a = demo_factory(release="a")
    b = demo_factory(release="b")
    router.put_routes(one_pool(a.address, b.address))
    count_releases(router, 10)
    a.kill()
    a.wait()
    seen = count_releases(router, 60)  # every request succeeds
    assert seen == {"b": 60}
    view = router.instances()[a.address]
    assert view["ejected"] and not view["routable"]
    metrics = router.metrics()
    assert f'turnout_retries_total{{instance="{a.address}",pool="v1"}}' in metrics
    retries = [
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
        if line.startswith("turnout_retries_total{") and a.address in line
    ]  # fmt: skip
    assert retries and retries[0] >= 1


def test_consecutive_5xx_eject_an_instance_but_never_the_last_one(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(
        one_pool(a.address, b.address, passive={"consecutive_5xx": 3, "ejection": "30s"})
    )
    a.behaviour.status = 500
    with httpx.Client() as c:
        for _ in range(40):
            c.get(router.url("/"))
    assert router.instances()[a.address]["ejected"]
    assert 3 <= len(a.requests) < 10
    b.behaviour.status = 500  # now the only routable one fails too: it stays in
    with httpx.Client() as c:
        codes = {c.get(router.url("/")).status_code for _ in range(20)}
    assert codes == {500}
    assert router.instances()[b.address]["routable"]


def test_drain_waits_for_in_flight_requests(router, demo_factory):
    a = demo_factory(release="a")
    b = demo_factory(release="b")
    router.put_routes(
        {"pools": {"a": {"instances": [a.address]}, "b": {"instances": [b.address]}},
         "weights": {"a": 100, "b": 0}}
    )  # fmt: skip
    result: dict[str, object] = {}

    def slow() -> None:
        r = httpx.get(router.url("/slow?ms=1500"), timeout=10)
        result["status"], result["release"] = r.status_code, r.headers["x-release"]

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    router.put_routes(
        {"pools": {"a": {"instances": [a.address]}, "b": {"instances": [b.address]}},
         "weights": {"a": 0, "b": 100}}
    )  # fmt: skip
    started = time.monotonic()
    r = router.admin("POST", "/v1/drain", json={"pool": "a", "timeout": "10s"})
    waited = time.monotonic() - started
    t.join()
    assert r.status_code == 200
    body = r.json()
    assert body["drained"] is True and body["in_flight"] == 0
    assert 0.8 < waited < 5  # it waited for the slow request, not for the deadline
    assert result == {"status": 200, "release": "a"}
    view = router.instances()[a.address]
    assert view["state"] == "drain" and view["idle_connections"] == 0
    assert count_releases(router, 5) == {"b": 5}


def test_drain_deadline_reports_what_is_left(router, demo_factory):
    a = demo_factory(release="a")
    router.put_routes(one_pool(a.address))
    t = threading.Thread(target=lambda: httpx.get(router.url("/slow?ms=2000"), timeout=10))
    t.start()
    time.sleep(0.3)
    r = router.admin("POST", "/v1/drain", json={"instance": a.address, "timeout": "300ms"})
    t.join()
    body = r.json()
    assert body["drained"] is False and body["in_flight"] == 1
    assert 250 <= body["waited_ms"] < 1500


def test_drained_pool_can_be_put_back(router, demo_factory):
    a = demo_factory(release="a")
    router.put_routes(one_pool(a.address))
    router.admin("POST", "/v1/drain", json={"pool": "v1", "timeout": "1s"})
    assert httpx.get(router.url("/")).status_code == 503
    assert router.admin("POST", "/v1/undrain", json={"pool": "v1"}).status_code == 200
    assert httpx.get(router.url("/")).status_code == 200
