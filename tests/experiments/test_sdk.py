"""The SDK against a recording server: batches, retries with the same ids, one exposure per
unit, flag variants, and a forked child that sends its own events."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from turnout.experiments import Experiments, initial_layout, validate_spec
from turnout.experiments.sdk import Running
from turnout.flags import Flags


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for b in self.batches for e in b]


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with rec.lock:
                failing = rec.fail_next > 0
                rec.fail_next -= 1
                if not failing:
                    rec.batches.append(body["events"])
            status, answer = (503, b"{}") if failing else (200, b'{"accepted": 1}')
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", rec
    httpd.shutdown()


SPEC = validate_spec({"key": "banner", "kind": "flag", "flag": "banner",
                      "variants": {"a": 50, "b": 50}, "metrics": ["click"]})  # fmt: skip
RUNNING = Running(SPEC, initial_layout(SPEC.variants), 1)


def test_events_go_in_batches_and_a_failed_batch_is_resent_with_the_same_ids(
    server: tuple[str, Recorder],
) -> None:
    url, rec = server
    rec.fail_next = 1
    sdk = Experiments(url, batch_size=100, flush_interval=0.05)
    sdk.start()
    for i in range(250):
        sdk.track(f"u{i}", "click")
    assert sdk.flush(20)
    sdk.close()
    ids = [e["id"] for e in rec.events]
    assert len(ids) == 250 == len(set(ids))  # each once, though the first batch failed
    assert max(len(b) for b in rec.batches) <= 100


def test_assignment_exposes_each_unit_once_and_serves_the_flag_value(
    server: tuple[str, Recorder],
) -> None:
    url, rec = server
    flags = Flags.from_dict({"flags": {"banner": {
        "state": "ENABLED", "variants": {"a": "Hello", "b": "Hi"}, "defaultVariant": "a"}}})  # fmt: skip
    sdk = Experiments(url, flush_interval=0.05)
    sdk.install(RUNNING)
    sdk.start()
    values = {sdk.value("banner", f"u{i}", flags) for i in range(200)}
    variants = [sdk.assign("banner", f"u{i}") for i in range(200)]
    assert values == {"Hello", "Hi"} and set(variants) == {"a", "b"}
    assert sdk.assign("missing", "u1") is None and sdk.value("missing", "u1", flags, "d") == "d"
    assert sdk.flush(20)
    sdk.close()
    exposures = [e for e in rec.events if e["type"] == "exposure"]
    assert len(exposures) == 200  # 400 assignments, 200 units
    assert {(e["unit"], e["variant"]) for e in exposures} == {
        (f"u{i}", v) for i, v in enumerate(variants)
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_its_own_events(server: tuple[str, Recorder]) -> None:
    url, rec = server
    sdk = Experiments(url, flush_interval=0.05)
    sdk.start()
    sdk.track("parent", "click")
    assert sdk.flush(20)
    pid = os.fork()
    if pid == 0:  # the child: a fresh thread and queue, as under gunicorn --preload
        code = 1
        try:
            sdk.track("child", "click")
            code = 0 if sdk.flush(10) and sdk.queued == 0 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sdk.track("parent-2", "click")
    assert sdk.flush(20)
    sdk.close()
    assert sorted(e["unit"] for e in rec.events) == ["child", "parent", "parent-2"]
