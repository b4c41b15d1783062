"""tests/support/peers.py: the real peers the bench and later tests use.

nginx and HAProxy started from the generated configs serve through to their
upstreams, honour weights (weight 0 takes no traffic), reload to new weights, and
are gone, workers included, once stopped; the wrk runner's result carries counts
and errors; turnout's router is set up through its admin API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.peers import (
    Peer,
    PeerSet,
    get,
    haproxy_command,
    haproxy_config,
    nginx_proxy_config,
    parse_wrk_output,
    peer_dir,
    reload_haproxy,
    reload_nginx,
    run_wrk,
    start_haproxy,
    start_nginx_proxy,
    start_nginx_static,
    start_turnout_router,
)
from support.system import require_program


@pytest.fixture
def workdir() -> Iterator[Path]:
    with peer_dir() as d:
        yield d


@pytest.fixture
def peers() -> Iterator[PeerSet]:
    with PeerSet() as s:
        yield s


def _bodies(peer: Peer, n: int = 12) -> set[bytes]:
    seen = set()
    for _ in range(n):
        status, body = get(peer.address)
        assert status == 200
        seen.add(body)
    return seen


def _gone(pids: list[int]) -> bool:
    return not any(os.path.exists(f"/proc/{pid}") and _not_zombie(pid) for pid in pids)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_configs_are_plain_text_of_addresses_and_weights(tmp_path: Path) -> None:
    ups = {"127.0.0.1:9001": 3, "127.0.0.1:9002": 0}
    nginx = nginx_proxy_config("127.0.0.1:8080", ups, workdir=tmp_path)
    assert "server 127.0.0.1:9001 weight=3" in nginx
    assert "server 127.0.0.1:9002 down;" in nginx
    assert "listen 127.0.0.1:8080" in nginx
    assert str(tmp_path) in nginx and "/var/" not in nginx
    haproxy = haproxy_config("127.0.0.1:8080", list(ups), workdir=tmp_path)
    assert "server s0 127.0.0.1:9001 weight 1" in haproxy
    assert "bind 127.0.0.1:8080" in haproxy
    with pytest.raises(ValueError):
        nginx_proxy_config("127.0.0.1:8080", {}, workdir=tmp_path)
    with pytest.raises(ValueError):
        haproxy_config("nowhere", ["127.0.0.1:9001"], workdir=tmp_path)


@pytest.mark.system
@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_proxy_follows_weights_and_reloads(kind: str, workdir: Path, peers: PeerSet) -> None:
    require_program(kind)
    require_program("nginx")
    a = peers.add(start_nginx_static(workdir, body="a\n", name="a"))
    b = peers.add(start_nginx_static(workdir, body="b\n", name="b"))
    start, reload = {
        "nginx": (start_nginx_proxy, reload_nginx),
        "haproxy": (start_haproxy, reload_haproxy),
    }[kind]
    proxy = peers.add(start(workdir, {a.address: 1, b.address: 0}))
    assert _bodies(proxy) == {b"a\n"}

    reload(proxy, {a.address: 0, b.address: 1})
    assert _bodies(proxy) == {b"b\n"}

    reload(proxy, [a.address, b.address])
    assert _bodies(proxy) == {b"a\n", b"b\n"}

    tree = proxy.pids()
    assert len(tree) >= 2  # master + worker
    proxy.stop()
    assert _gone(tree)


@pytest.mark.system
def test_haproxy_runtime_api_sets_weights(workdir: Path, peers: PeerSet) -> None:
    require_program("haproxy")
    require_program("nginx")
    a = peers.add(start_nginx_static(workdir, body="a\n", name="a"))
    b = peers.add(start_nginx_static(workdir, body="b\n", name="b"))
    proxy = peers.add(start_haproxy(workdir, [a.address, b.address]))
    haproxy_command(proxy, "set server be/s0 weight 0")
    assert _bodies(proxy) == {b"b\n"}


@pytest.mark.system
def test_wrk_counts_requests_and_status_errors(workdir: Path, peers: PeerSet) -> None:
    require_program("wrk")
    require_program("nginx")
    ok = peers.add(start_nginx_static(workdir, name="ok"))
    bad = peers.add(start_nginx_static(workdir, status=503, body="no\n", name="bad"))

    good = run_wrk(ok.url, duration=1, connections=4, workdir=workdir)
    assert good.requests > 0 and good.rps > 0
    assert good.error_count == 0
    assert 0 < good.p50_ms <= good.p99_ms <= good.max_ms

    failing = run_wrk(bad.url, duration=1, connections=4, rate=200, workdir=workdir)
    assert failing.requests > 0
    assert failing.errors["status"] == failing.requests


def test_parse_wrk_output_reads_the_done_line() -> None:
    out = (
        "Running 1s test @ http://127.0.0.1:1/\n"
        'TURNOUT_WRK {"duration_us":2000000,"requests":1000,"bytes":1,'
        '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},'
        '"latency_us":{"min":10,"mean":100.5,"stdev":3.0,"max":900,'
        '"50":90,"75":120,"90":150,"99":400,"99.9":800}}\n'
    )
    r = parse_wrk_output(out, url="u", connections=5, threads=1, rate=None)
    assert r.rps == 500
    assert (r.p50_ms, r.p99_ms, r.max_ms) == (0.09, 0.4, 0.9)
    assert r.error_count == 3


@pytest.mark.system
def test_turnout_router_peer_proxies_to_its_upstream(workdir: Path, peers: PeerSet) -> None:
    require_program("nginx")
    up = peers.add(start_nginx_static(workdir, body="from upstream\n"))
    router = peers.add(start_turnout_router(workdir, [up.address]))
    assert router.extra["generation"] >= 1
    assert get(router.address) == (200, b"from upstream\n")
    tree = router.pids()
    router.stop()
    assert _gone(tree)
