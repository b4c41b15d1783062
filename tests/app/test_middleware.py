"""turnout.app: the ASGI and WSGI middleware driven in-process (no server).

What a user relies on: the health endpoint goes to the app while it is healthy, and
answers 503 + ``Connection: close`` once the drain file exists (or ``drain.start()``)
or while the app is not ready; a response that starts after the drain notice closes
its connection; an accepted WebSocket is closed with 1001 "going away"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from turnout.app import Drain, Readiness, TurnoutASGI, TurnoutWSGI

Message = dict[str, Any]
EVERY = 0.05  # drain-file check interval of the WebSocket tests


@pytest.fixture
def drain_file(tmp_path: Path) -> Path:
    return tmp_path / "app.drain.1"


@pytest.fixture
def drain(drain_file: Path) -> Drain:
    return Drain(path=str(drain_file), every=0)


# --------------------------------------------------------------------------- ASGI helpers


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers every HTTP request 200 "from the app" (its own /healthz included)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-from", b"app")],
        }
    )
    await send({"type": "http.response.body", "body": b"app ok"})


async def http(mw: TurnoutASGI, path: str = "/") -> list[Message]:
    """One HTTP request through ``mw``; the messages it sent to the server."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    await mw(scope, receive, send)
    return sent


def start_of(sent: list[Message]) -> Message:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return starts[0]


def status(sent: list[Message]) -> int:
    return int(start_of(sent)["status"])


def header_values(sent: list[Message], name: bytes) -> list[bytes]:
    return [v for k, v in start_of(sent).get("headers", []) if k.lower() == name]


def body(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def get(mw: TurnoutASGI, path: str = "/") -> list[Message]:
    return asyncio.run(http(mw, path))


# ------------------------------------------------------------------------ ASGI: health


def test_health_goes_to_the_app_while_healthy(drain: Drain) -> None:
    sent = get(TurnoutASGI(ok_app, drain=drain), "/healthz")
    assert status(sent) == 200
    assert body(sent) == b"app ok"  # the app's own check ran
    assert header_values(sent, b"x-from") == [b"app"]
    assert header_values(sent, b"connection") == []


def test_health_answers_503_and_closes_once_the_drain_file_exists(
    drain: Drain, drain_file: Path
) -> None:
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])
        await ok_app(scope, receive, send)

    mw = TurnoutASGI(app, drain=drain)
    assert status(get(mw, "/healthz")) == 200
    drain_file.touch()
    sent = get(mw, "/healthz")
    assert status(sent) == 503 and body(sent) == b'{"status": "draining"}\n'
    assert header_values(sent, b"connection") == [b"close"]
    assert called == ["/healthz"]  # the draining check did not reach the app
    # Other paths are still served by the app, each closing its connection.
    sent = get(mw, "/")
    assert status(sent) == 200 and body(sent) == b"app ok"
    assert header_values(sent, b"connection") == [b"close"]
    # Drained for good, even when the supervisor removes the file afterwards.
    drain_file.unlink()
    assert status(get(mw, "/healthz")) == 503


def test_the_drain_file_is_named_by_turnout_drain_file(
    drain_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURNOUT_DRAIN_FILE", str(drain_file))
    mw = TurnoutASGI(ok_app, drain=Drain(every=0))
    assert status(get(mw, "/healthz")) == 200
    drain_file.touch()
    assert status(get(mw, "/healthz")) == 503


def test_drain_start_drains_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TURNOUT_DRAIN_FILE", raising=False)
    drain = Drain()
    mw = TurnoutASGI(ok_app, drain=drain)
    assert not drain.draining
    assert status(get(mw, "/healthz")) == 200
    drain.start()
    assert drain.draining
    sent = get(mw, "/healthz")
    assert status(sent) == 503
    assert header_values(sent, b"connection") == [b"close"]


def test_a_custom_health_path(drain: Drain) -> None:
    drain.start()
    mw = TurnoutASGI(ok_app, health_path="/-/ready", drain=drain)
    assert status(get(mw, "/-/ready")) == 503
    assert status(get(mw, "/healthz")) == 200  # an ordinary path now


# ------------------------------------------------------- ASGI: responses after the notice


def test_a_response_that_starts_after_the_notice_closes_its_connection(
    drain: Drain, drain_file: Path
) -> None:
    """The request began before the drain, its response starts after it: the app's own
    ``Connection`` header is replaced by ``close``, not duplicated."""

    async def scenario() -> list[Message]:
        go = asyncio.Event()
        entered = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            entered.set()
            await go.wait()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"Connection", b"keep-alive"), (b"x-from", b"app")],
                }
            )
            await send({"type": "http.response.body", "body": b"late"})

        mw = TurnoutASGI(app, drain=drain)
        request = asyncio.create_task(http(mw, "/slow"))
        await entered.wait()  # the request is in the app, not draining yet
        drain_file.touch()
        go.set()
        return await request

    sent = asyncio.run(scenario())
    assert status(sent) == 200 and body(sent) == b"late"
    assert header_values(sent, b"connection") == [b"close"]
    assert header_values(sent, b"x-from") == [b"app"]  # other headers kept


def test_a_response_that_started_before_the_notice_is_left_alone(
    drain: Drain, drain_file: Path
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        drain_file.touch()  # the notice comes while the body streams
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    sent = get(TurnoutASGI(app, drain=drain), "/stream")
    assert body(sent) == b"ab"
    assert header_values(sent, b"connection") == []  # headers were already out
    assert drain.draining


# --------------------------------------------------------------------- ASGI: readiness


def lifespan_app(
    startup: asyncio.Event, answer: str = "lifespan.startup.complete"
) -> Callable[..., Any]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await ok_app(scope, receive, send)
            return
        assert (await receive())["type"] == "lifespan.startup"
        await startup.wait()
        await send({"type": answer})
        if answer == "lifespan.startup.complete":
            assert (await receive())["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})

    return app


def test_health_is_503_until_the_lifespan_startup_completed(drain: Drain) -> None:
    async def scenario() -> None:
        startup = asyncio.Event()
        mw = TurnoutASGI(lifespan_app(startup), drain=drain)
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(dict(message))

        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(mw({"type": "lifespan"}, inbox.get, send))
        await asyncio.sleep(0.01)  # the server sent lifespan.startup; the app is starting
        early = await http(mw, "/healthz")
        assert status(early) == 503
        assert header_values(early, b"connection") == [b"close"]
        assert status(await http(mw, "/")) == 200  # only the health check is gated
        startup.set()
        while not sent:
            await asyncio.sleep(0.001)
        assert sent == [{"type": "lifespan.startup.complete"}]
        assert status(await http(mw, "/healthz")) == 200
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 5)

    asyncio.run(scenario())


def test_a_failed_lifespan_startup_is_never_ready(drain: Drain) -> None:
    async def scenario() -> None:
        startup = asyncio.Event()
        startup.set()
        mw = TurnoutASGI(lifespan_app(startup, "lifespan.startup.failed"), drain=drain)
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: Message) -> None:
            pass

        await mw({"type": "lifespan"}, inbox.get, send)
        assert status(await http(mw, "/healthz")) == 503

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["raises", "returns"])
def test_an_app_without_lifespan_support_is_ready(drain: Drain, how: str) -> None:
    """Servers (uvicorn's ``--lifespan auto``) go on serving an app that raises on the
    lifespan scope (Django does) or returns without answering; so must the health check."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            if how == "raises":
                raise ValueError("only http is supported")
            return
        await ok_app(scope, receive, send)

    async def scenario() -> None:
        mw = TurnoutASGI(app, drain=drain)
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: Message) -> None:
            raise AssertionError(f"the app sent {message}")

        if how == "raises":
            with pytest.raises(ValueError):
                await mw({"type": "lifespan"}, inbox.get, send)
        else:
            await mw({"type": "lifespan"}, inbox.get, send)
        assert status(await http(mw, "/healthz")) == 200

    asyncio.run(scenario())


def test_health_is_503_until_readiness_is_set(drain: Drain) -> None:
    readiness = Readiness()
    mw = TurnoutASGI(ok_app, drain=drain, readiness=readiness)
    sent = get(mw, "/healthz")
    assert status(sent) == 503 and body(sent) == b'{"status": "starting"}\n'
    assert status(get(mw, "/")) == 200
    readiness.set_ready()
    sent = get(mw, "/healthz")
    assert status(sent) == 200 and body(sent) == b"app ok"
    readiness.set_not_ready()
    assert status(get(mw, "/healthz")) == 503
    assert status(get(TurnoutASGI(ok_app, drain=drain, readiness=Readiness(ready=True)))) == 200


# --------------------------------------------------------------------- ASGI: WebSocket


class FakeWebSocketServer:
    """The server side of one WebSocket: hands the app ``websocket.connect``, records
    what the app sends (with the time), and, like uvicorn, answers a close by queueing
    ``websocket.disconnect`` for the app."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.sent: list[tuple[float, Message]] = []
        self.accepted = asyncio.Event()

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append((time.monotonic(), dict(message)))
        if message["type"] == "websocket.accept":
            self.accepted.set()
        if message["type"] == "websocket.close":
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": message.get("code")})

    def closes(self) -> list[tuple[float, Message]]:
        return [(t, m) for t, m in self.sent if m["type"] == "websocket.close"]

    async def run(self, mw: TurnoutASGI) -> None:
        await mw({"type": "websocket", "path": "/ws", "headers": []}, self.receive, self.send)


async def echo_until_disconnect(scope: Any, receive: Any, send: Any) -> None:
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] != "websocket.disconnect":
        await send({"type": "websocket.send", "text": message.get("text", "")})


def test_an_accepted_websocket_is_closed_with_1001_soon_after_the_notice(
    drain_file: Path,
) -> None:
    async def scenario() -> tuple[float, list[tuple[float, Message]]]:
        server = FakeWebSocketServer()
        mw = TurnoutASGI(echo_until_disconnect, drain=Drain(path=str(drain_file), every=EVERY))
        session = asyncio.create_task(server.run(mw))
        await server.accepted.wait()
        await asyncio.sleep(3 * EVERY)
        assert server.closes() == []  # not draining: left open
        notice = time.monotonic()
        drain_file.touch()
        await asyncio.wait_for(session, 5)  # the app saw the disconnect and returned
        return notice, server.closes()

    notice, closes = asyncio.run(scenario())
    assert len(closes) == 1
    at, close = closes[0]
    assert close["code"] == 1001 and close["reason"] == "going away"
    # Seen at the next look at the file: within ~2 intervals (plus scheduling slack).
    assert at - notice <= 2 * EVERY + 0.05, at - notice


def test_a_draining_websocket_is_closed_right_after_the_reply_it_owes(
    drain_file: Path,
) -> None:
    """A message arrived and the app is still working on it when the notice comes: the
    1001 waits for the reply and follows it at once, so no message is cut in half."""

    async def slow_echo(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] != "websocket.disconnect":
            await asyncio.sleep(6 * EVERY)  # working on it across the notice
            await send({"type": "websocket.send", "text": message["text"]})

    async def scenario() -> FakeWebSocketServer:
        server = FakeWebSocketServer()
        mw = TurnoutASGI(slow_echo, drain=Drain(path=str(drain_file), every=EVERY))
        session = asyncio.create_task(server.run(mw))
        await server.accepted.wait()
        server.inbox.put_nowait({"type": "websocket.receive", "text": "order 1"})
        await asyncio.sleep(EVERY)
        drain_file.touch()
        await asyncio.wait_for(session, 5)
        return server

    server = asyncio.run(scenario())
    kinds = [(m["type"], m.get("text") or m.get("code")) for _, m in server.sent]
    assert kinds == [
        ("websocket.accept", None),
        ("websocket.send", "order 1"),
        ("websocket.close", 1001),
    ]
    (reply_at, _), (close_at, _) = server.sent[1], server.sent[2]
    assert close_at - reply_at < EVERY  # right behind the reply, not at the next look


def test_a_websocket_that_owes_a_reply_too_long_is_closed_anyway(
    drain_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("turnout.app.WS_QUIET_WAIT", 3 * EVERY)

    async def never_answers(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async def scenario() -> tuple[float, FakeWebSocketServer]:
        server = FakeWebSocketServer()
        mw = TurnoutASGI(never_answers, drain=Drain(path=str(drain_file), every=EVERY))
        session = asyncio.create_task(server.run(mw))
        await server.accepted.wait()
        server.inbox.put_nowait({"type": "websocket.receive", "text": "hello?"})
        await asyncio.sleep(EVERY / 2)
        notice = time.monotonic()
        drain_file.touch()
        await asyncio.wait_for(session, 5)
        return notice, server

    notice, server = asyncio.run(scenario())
    [(at, close)] = server.closes()
    assert close["code"] == 1001
    assert 2 * EVERY <= at - notice <= 6 * EVERY + 0.1


def test_a_websocket_the_app_closed_itself_gets_no_second_close(drain_file: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        drain_file.touch()  # the notice comes while the app is still busy
        await asyncio.sleep(4 * EVERY)

    server = FakeWebSocketServer()
    asyncio.run(server.run(TurnoutASGI(app, drain=Drain(path=str(drain_file), every=EVERY))))
    assert [m["code"] for _, m in server.closes()] == [1000]


def test_after_going_away_the_apps_own_close_is_dropped_and_sends_fail_as_disconnected(
    drain_file: Path,
) -> None:
    """Servers reject a second close (uvicorn: RuntimeError, logged as an app error).
    After the middleware's 1001 the app's cleanup close is dropped, and a send fails
    as it would after a client disconnect (an OSError)."""
    outcome: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
            try:
                await send({"type": "websocket.send", "text": "too late"})
            except OSError:
                outcome.append("send: OSError")
        finally:
            await send({"type": "websocket.close", "code": 1000})  # the usual cleanup
            outcome.append("closed")

    async def scenario() -> FakeWebSocketServer:
        server = FakeWebSocketServer()
        session = asyncio.create_task(
            server.run(TurnoutASGI(app, drain=Drain(path=str(drain_file), every=EVERY)))
        )
        await server.accepted.wait()
        drain_file.touch()
        await asyncio.wait_for(session, 5)
        return server

    server = asyncio.run(scenario())
    assert [m["code"] for _, m in server.closes()] == [1001]
    assert [m["type"] for _, m in server.sent] == ["websocket.accept", "websocket.close"]
    assert outcome == ["send: OSError", "closed"]


def test_a_websocket_refused_before_accept_is_not_closed_again(drain: Drain) -> None:
    drain.start()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        await asyncio.sleep(0.05)

    server = FakeWebSocketServer()
    asyncio.run(server.run(TurnoutASGI(app, drain=drain)))
    assert [m["code"] for _, m in server.closes()] == [1008]


# --------------------------------------------------------------------------------- WSGI


def wsgi_ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "keep-alive")])
    return [b"app ok"]


def wsgi_get(
    app: Callable[..., Iterable[bytes]], path: str = "/"
) -> tuple[str, list[tuple[str, str]], bytes]:
    answer: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        answer[:] = [status, headers]

    chunks = app({"REQUEST_METHOD": "GET", "PATH_INFO": path}, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer[0], answer[1], data


def connection(headers: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in headers if k.lower() == "connection"]


def test_wsgi_health_goes_to_the_app_then_503_on_drain(drain: Drain, drain_file: Path) -> None:
    mw = TurnoutWSGI(wsgi_ok, drain=drain)
    status_line, headers, data = wsgi_get(mw, "/healthz")
    assert status_line == "200 OK" and data == b"app ok"
    assert connection(headers) == ["keep-alive"]  # untouched while healthy
    drain_file.touch()
    status_line, headers, _ = wsgi_get(mw, "/healthz")
    assert status_line.startswith("503")
    assert connection(headers) == ["close"]


class ServerResponse:
    """Shaped like gunicorn's: start_response is its method, force_close() closes."""

    def __init__(self) -> None:
        self.closing = False
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        self.headers = headers

    def force_close(self) -> None:
        self.closing = True


def test_wsgi_drain_forces_a_server_that_drops_connection_headers_to_close(
    drain: Drain, drain_file: Path
) -> None:
    mw = TurnoutWSGI(wsgi_ok, drain=drain)
    resp = ServerResponse()
    b"".join(mw({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, resp.start_response))
    assert not resp.closing  # kept alive while healthy
    drain_file.touch()
    resp = ServerResponse()
    b"".join(mw({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, resp.start_response))
    assert resp.closing and connection(resp.headers) == ["close"]


def test_wsgi_drain_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TURNOUT_DRAIN_FILE", raising=False)
    mw = TurnoutWSGI(wsgi_ok)
    assert wsgi_get(mw, "/healthz")[0] == "200 OK"
    mw.drain.start()
    assert wsgi_get(mw, "/healthz")[0].startswith("503")


def test_wsgi_a_response_that_starts_after_the_notice_closes_its_connection(
    drain: Drain, drain_file: Path
) -> None:
    """A streaming app calls start_response on its first iteration: the request came
    in before the notice, the response starts after it."""
    closed: list[bool] = []

    def streaming(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        try:
            start_response("200 OK", [("Connection", "Keep-Alive"), ("X-From", "app")])
            yield b"late"
        finally:
            closed.append(True)

    mw = TurnoutWSGI(streaming, drain=drain)
    answer: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        answer[:] = [status, headers]

    chunks = mw({"REQUEST_METHOD": "GET", "PATH_INFO": "/slow"}, start_response)
    drain_file.touch()
    assert b"".join(chunks) == b"late"
    chunks.close()  # type: ignore[attr-defined]  # the app's iterable, close() kept
    assert answer[0] == "200 OK"
    assert connection(answer[1]) == ["close"]
    assert ("X-From", "app") in answer[1]
    assert closed == [True]


def test_wsgi_health_is_503_until_readiness_is_set(drain: Drain) -> None:
    readiness = Readiness()
    mw = TurnoutWSGI(wsgi_ok, drain=drain, readiness=readiness)
    answer = wsgi_get(mw, "/healthz")
    assert answer[0].startswith("503") and answer[2] == b'{"status": "starting"}\n'
    assert wsgi_get(mw, "/")[0] == "200 OK"  # only the health check is gated
    readiness.set_ready()
    assert wsgi_get(mw, "/healthz")[0] == "200 OK"
    readiness.set_not_ready()
    assert wsgi_get(mw, "/healthz")[0].startswith("503")
