"""The probe's view of who holds a connection: /proc/net/tcp parsing, held connections
(what retire waits on) and health checks that know which process answered."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable

import pytest

from turnout.hotswap.probe import Backlog, backlog, held_connections, parse_net_tcp, probe

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs: Linux only")

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:1F90 0100007F:D326 01 00000000:00000000 00:00000000 00000000     0        0 4343 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C350 01 00000000:0\
0000000 00:00000000 00000000     0        0 77 1
"""


def test_parse_net_tcp_reads_addresses_states_and_inodes() -> None:
    listen, conn = parse_net_tcp(TCP)
    assert listen.local == ("127.0.0.1", 8080) and listen.state == 0x0A and listen.inode == 4242
    assert conn.remote == ("127.0.0.1", 54054) and conn.state == 1 and conn.inode == 4343
    (six,) = parse_net_tcp(TCP6)
    assert six.local == ("::1", 8080) and six.remote == ("::1", 50000) and six.inode == 77


def _pair() -> tuple[socket.socket, socket.socket, socket.socket, int]:
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = lsock.accept()
    return lsock, client, server, port


def test_held_connections_lists_the_accepted_side_until_it_is_closed() -> None:
    lsock, client, server, port = _pair()
    try:
        inode = os.fstat(server.fileno()).st_ino
        held = held_connections({os.getpid()}, {port})
        assert held == {inode}  # not the listening socket, not the client side
        assert held_connections({os.getpid()}, {port + 1 if port < 65535 else 1}) == set()
        server.close()
        assert held_connections({os.getpid()}, {port}) == set()
    finally:
        for s in (lsock, client, server):
            s.close()


def _wait_for(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 2
    while not check() and time.monotonic() < deadline:
        time.sleep(0.005)
    return check()


def test_backlog_counts_unread_requests_and_unaccepted_connections() -> None:
    me = {os.getpid()}
    lsock, client, server, port = _pair()
    try:
        assert backlog(me, {port}) == Backlog(0, 0)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # accepted, not read yet
        assert _wait_for(lambda: backlog(me, {port}) == Backlog(1, 0))
        server.recv(1024)
        assert backlog(me, {port}) == Backlog(0, 0)
        queued = socket.create_connection(("127.0.0.1", port))  # not accepted yet
        assert _wait_for(lambda: backlog(me, {port}).unaccepted == 1)
        assert backlog(set(), {port}) == Backlog(0, 1)  # the queue belongs to nobody
        accepted, _ = lsock.accept()
        assert backlog(me, {port}) == Backlog(0, 0)
        for s in (queued, accepted):
            s.close()
    finally:
        for s in (lsock, client, server):
            s.close()


def _serve_once(lsock: socket.socket, status: int) -> None:
    conn, _ = lsock.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(1024)
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())


@pytest.mark.parametrize(("status", "passed"), [(200, True), (503, False)])
def test_probe_reports_who_answered(status: int, passed: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        t = threading.Thread(target=_serve_once, args=(lsock, status), daemon=True)
        t.start()
        result = probe(lsock.getsockname(), "/healthz", "200-399", 5.0, {os.getpid()})
        t.join(5)
    assert result.passed is passed
    assert result.answered_by == os.getpid()
    assert result.detail == f"status {status}"


def test_probe_of_a_closed_port_fails_without_an_answerer() -> None:
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        address = lsock.getsockname()
    result = probe(address, "/healthz", "200-399", 1.0, {os.getpid()})
    assert not result.passed and result.answered_by is None
