"""The admin API: live tables with generations, validation, auth, metrics, persistence."""

from __future__ import annotations

import time

import httpx
import pytest

from support.router import one_pool
from support.system import free_port


def test_put_returns_generation_and_the_table_is_live(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    g1 = router.put_routes(
        {"pools": {"a": {"instances": [a.address]}, "b": {"instances": [b.address]}},
         "weights": {"a": 100, "b": 0}}
    )  # fmt: skip
    assert httpx.get(router.url("/")).status_code == 200
    assert len(a.requests) == 1 and not b.requests
    g2 = router.put_routes(
        {"pools": {"a": {"instances": [a.address]}, "b": {"instances": [b.address]}},
         "weights": {"a": 0, "b": 100}}
    )  # fmt: skip
    assert g2 == g1 + 1
    # Acknowledged means live: the very next request goes to the new pool.
    assert httpx.get(router.url("/")).status_code == 200
    assert len(b.requests) == 1 and len(a.requests) == 1
    view = router.routes()
    assert view["generation"] == g2 and view["weights"] == {"a": 0, "b": 100}


def test_invalid_table_is_refused_and_the_old_one_stays(router, recorder):
    g = router.put_routes(one_pool(recorder.address))
    r = router.admin("PUT", "/v1/routes", json={"pools": {"v1": {"instances": ["nope"]}}})
    assert r.status_code == 400
    assert r.json()["error"] == "route table: pools.v1.instances[0]: 'nope' is not HOST:PORT"
    r = router.admin("PUT", "/v1/routes", content=b"{oops")
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    assert router.routes()["generation"] == g
    assert httpx.get(router.url("/")).status_code == 200


def test_expected_generation_guards_against_lost_updates(router, recorder):
    g = router.put_routes(one_pool(recorder.address))
    stale = {**one_pool(recorder.address), "expected_generation": g - 1}
    r = router.admin("PUT", "/v1/routes", json=stale)
    assert r.status_code == 409
    assert "generation" in r.json()["error"]
    assert router.put_routes({**one_pool(recorder.address), "expected_generation": g}) == g + 1


def test_token_is_required_for_changes_but_not_reads(router_factory, recorder):
    r = router_factory(token="s3cret")
    r.put_routes(one_pool(recorder.address))  # the helper sends the token
    anon = httpx.put(r.admin_url("/v1/routes"), json=one_pool(recorder.address))
    assert anon.status_code == 401
    assert anon.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.put(
        r.admin_url("/v1/routes"), json=one_pool(recorder.address),
        headers={"Authorization": "Bearer s3cret-not"},
    )  # fmt: skip
    assert wrong.status_code == 401
    assert httpx.post(r.admin_url("/v1/drain"), json={"pool": "v1"}).status_code == 401
    assert httpx.get(r.admin_url("/v1/routes")).status_code == 200
    assert httpx.get(r.admin_url("/metrics")).status_code == 200


def test_admin_beyond_loopback_without_token_is_refused(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "turnout", "router", "--listen", f"127.0.0.1:{free_port()}",
         "--admin", "0.0.0.0:9", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        "error: admin 0.0.0.0:9: binding the admin API beyond loopback"
    )
    assert "Traceback" not in out.stderr


def test_unknown_endpoint_and_method(router):
    assert router.admin("GET", "/v1/nope").status_code == 404
    r = router.admin("DELETE", "/v1/routes")
    assert r.status_code == 405 and "GET, PUT" in r.json()["error"]


def test_metrics_have_per_pool_and_per_instance_series(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    router.put_routes(
        {"pools": {"stable": {"instances": [a.address]}, "canary": {"instances": [b.address]}},
         "weights": {"stable": 50, "canary": 50}}
    )  # fmt: skip
    b.behaviour.status = 500
    with httpx.Client() as client:
        for _ in range(60):
            client.get(router.url("/"))
    text = router.metrics()
    stable_2xx = _value(text, "turnout_requests_total", pool="stable", code_class="2xx")
    canary_5xx = _value(text, "turnout_requests_total", pool="canary", code_class="5xx")
    assert stable_2xx == len(a.requests) and stable_2xx > 0
    assert canary_5xx == len(b.requests) and canary_5xx > 0
    assert stable_2xx + canary_5xx == 60
    assert _value(text, "turnout_request_duration_seconds_count", pool="stable") == stable_2xx
    assert "turnout_in_flight_requests{" in text
    assert "turnout_route_generation 1.0" in text


def _value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    found = False
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    assert found, f"no {name} {labels}"
    return total


def test_table_survives_a_restart(router_factory, recorder, tmp_path):
    state = tmp_path / "state"
    r1 = router_factory(state_dir=state)
    g = r1.put_routes(
        {**one_pool(recorder.address), "sticky": {"cookie": "sid"},
         "rules": [{"header": "x-pool", "equals": "v1", "pool": "v1"}]}
    )  # fmt: skip
    assert r1.stop() == 0
    assert (state / "routes.json").exists()
    r2 = router_factory(state_dir=state)
    assert r2.routes()["generation"] == g
    assert r2.routes()["sticky"]["cookie"] == "sid"
    assert httpx.get(r2.url("/")).status_code == 200


def test_damaged_state_file_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    state = tmp_path / "state"
    state.mkdir()
    (state / "routes.json").write_text("{broken")
    out = subprocess.run(
        [sys.executable, "-m", "turnout", "router", "--listen", f"127.0.0.1:{free_port()}",
         "--admin", f"127.0.0.1:{free_port()}", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.returncode == 2
    assert "routes.json: not valid JSON" in out.stderr and "Traceback" not in out.stderr


def test_port_in_use_is_a_clear_error(router, tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "turnout", "router", "--listen", router.address,
         "--admin", f"127.0.0.1:{free_port()}", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.returncode == 1
    assert f"cannot listen on {router.address}" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "give exactly one of 'pool', 'instance' or 'instances'"),
        ({"pool": "zz"}, "pool 'zz' is not in the route table"),
        ({"instance": "127.0.0.1:1"}, "instance '127.0.0.1:1' is not in the route table"),
        ({"pool": "v1", "timeout": "soon"}, "timeout: 'soon' is not a duration"),
        ({"pool": "v1", "bogus": 1}, "unknown key 'bogus'"),
    ],
)
def test_drain_bad_input(router, recorder, body, error):
    router.put_routes(one_pool(recorder.address))
    r = router.admin("POST", "/v1/drain", json=body)
    assert r.status_code == 400
    assert error in r.json()["error"]


def test_stats_give_per_pool_counters_that_survive_instance_removal(router, recorder_factory):
    a, b = recorder_factory(), recorder_factory()
    table = {
        "pools": {"stable": {"instances": [a.address]}, "canary": {"instances": [b.address]}},
        "weights": {"stable": 0, "canary": 100},
    }
    router.put_routes(table)
    b.behaviour.status = 503
    with httpx.Client() as c:
        for _ in range(7):
            c.get(router.url("/"))
    router.put_routes({"pools": {"stable": {"instances": [a.address]}}, "weights": {"stable": 100}})
    time.sleep(0.6)  # the retired instance is removed on the next tick
    stats = router.admin("GET", "/v1/stats").json()
    canary = stats["pools"]["canary"]
    assert canary["codes"] == [0, 0, 0, 0, 7]
    assert sum(canary["hist"]) == 7 and len(canary["hist"]) == len(stats["bounds"]) + 1
    assert stats["pools"]["stable"]["codes"] == [0, 0, 0, 0, 0]
    assert stats["generation"] == 2
