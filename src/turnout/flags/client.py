"""The connected SDK's background sync: a thread that follows the flag service's stream.

``SyncClient`` fetches ``GET /v1/flagset`` once (bounded by the caller's timeout), then
reads ``GET /v1/flagset/stream`` (Server-Sent Events): a ``snapshot`` replaces the
flags; a ``change`` whose ``base`` is the version held is applied; any other (a gap)
makes it reconnect, and the service starts every connection with a snapshot. Every
new snapshot is compiled before it is installed, so a bad one is logged and the last
good flags keep being served. Errors back off from 0.1 s to 10 s with jitter.

Fork safety: ``os.register_at_fork`` restarts the thread of every running client in
the child (a forked process inherits the snapshot but not the thread), with a fresh
HTTP connection; the parent is unaffected. The thread is a daemon: it never holds a
process open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from turnout.flags.evaluate import build
from turnout.flags.model import DefinitionError, parse_document, validate_document

if TYPE_CHECKING:
    from turnout.flags.sdk import Flags

__all__ = ["SyncClient"]

log = logging.getLogger("turnout.flags")
_CLIENTS: weakref.WeakSet[SyncClient] = weakref.WeakSet()
BACKOFF_MIN, BACKOFF_MAX = 0.1, 10.0
READ_TIMEOUT = 45.0  # three missed heartbeats (the service sends one every 15 s)


class SyncClient:
    def __init__(
        self,
        flags: Flags,
        url: str,
        token: str | None,
        cache: Path | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._flags = weakref.ref(flags)
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.cache = cache
        self.read_timeout = read_timeout
        self.document: dict[str, Any] | None = None
        self.connected = threading.Event()  # the stream is open and its snapshot applied
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._socket: socket.socket | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float, fallback: Path | None) -> None:
        if not self._initial_fetch(timeout):
            self._load_local(fallback)
        _CLIENTS.add(self)
        self._spawn()

    def stop(self) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread out of a blocking read
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _spawn(self) -> None:
        self._thread = threading.Thread(target=self._run, name="turnout-flags-sync", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        if self._stop.is_set() or self._thread is None:
            return
        self._http = None  # the parent's connection is the parent's
        self._socket = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        flags = self._flags()
        if flags is not None:
            flags._changed = threading.Condition()  # a lock held at fork time would never open
        self._spawn()

    # --- initial state --------------------------------------------------------------------

    def _initial_fetch(self, timeout: float) -> bool:
        try:
            response = httpx.get(f"{self.url}/v1/flagset", headers=self.headers, timeout=timeout)
            response.raise_for_status()
            data = response.json()
            self._install(int(data["version"]), data["document"], "flag service")
            return True
        except (httpx.HTTPError, ValueError, KeyError, DefinitionError) as exc:
            log.warning("flags: %s unreachable (%s); serving the local copy if any", self.url, exc)
            return False

    def _load_local(self, fallback: Path | None) -> None:
        for path, what in ((self.cache, "cached snapshot"), (fallback, "fallback file")):
            if path is None or not path.exists():
                continue
            try:
                if what == "cached snapshot":
                    data = json.loads(path.read_text())
                    self._install(int(data["version"]), data["document"], str(path), save=False)
                else:
                    document = parse_document(path.read_bytes(), str(path)).to_json()
                    self._install(0, document, str(path), save=False)
                log.warning("flags: serving the %s %s", what, path)
                return
            except (OSError, ValueError, KeyError, DefinitionError) as exc:
                log.warning("flags: cannot use the %s %s: %s", what, path, exc)

    def _install(
        self, version: int, document: dict[str, Any], source: str, save: bool = True
    ) -> None:
        snapshot = build(validate_document(document, source), version, source)
        flags = self._flags()
        if flags is None:
            self._stop.set()
            return
        self.document = document
        flags.install(snapshot)
        if save and self.cache is not None:
            self._save(version, document)

    def _save(self, version: int, document: dict[str, Any]) -> None:
        assert self.cache is not None
        try:
            tmp = self.cache.with_name(self.cache.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": version, "document": document}))
            tmp.replace(self.cache)
        except OSError as exc:
            log.warning("flags: cannot write the cache %s: %s", self.cache, exc)

    # --- the stream -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._stop.is_set():
            try:
                if self._follow():
                    backoff = BACKOFF_MIN  # it got a snapshot: the next failure starts over
            except (httpx.HTTPError, OSError, ValueError, RuntimeError) as exc:
                if self._stop.is_set():
                    return
                log.info(
                    "flags: stream from %s ended (%s); retrying in %.1fs", self.url, exc, backoff
                )
            self.connected.clear()
            if self._stop.wait(backoff * random.uniform(0.8, 1.2)):
                return
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _follow(self) -> bool:
        """Read one connection of the stream; True when it delivered a snapshot."""
        timeout = httpx.Timeout(5.0, read=self.read_timeout)
        got_snapshot = False
        with httpx.Client(headers=self.headers, timeout=timeout) as http:
            self._http = http
            with http.stream("GET", f"{self.url}/v1/flagset/stream") as response:
                response.raise_for_status()
                stream = response.extensions.get("network_stream")
                self._socket = stream.get_extra_info("socket") if stream is not None else None
                if self._stop.is_set():
                    return False
                event, data = "message", ""
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return got_snapshot
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif not line and data:
                        if not self._apply(event, json.loads(data)):
                            return got_snapshot  # a gap: reconnect for a fresh snapshot
                        got_snapshot |= event == "snapshot"
                        event, data = "message", ""
        return got_snapshot

    def _apply(self, event: str, data: dict[str, Any]) -> bool:
        """Apply one event; False when it cannot be applied (a version gap)."""
        flags = self._flags()
        if flags is None:
            self._stop.set()
            return False
        try:
            if event == "snapshot":
                self._install(int(data["version"]), data["document"], "flag service")
                self.connected.set()
                return True
            if event != "change":
                return True
            if self.document is None or data["base"] != flags.version:
                log.info(
                    "flags: missed a change (have %s, change is on %s); resyncing",
                    flags.version,
                    data["base"],
                )
                return False
            document = {**self.document, "flags": dict(self.document["flags"])}
            for key, definition in data["flags"].items():
                if definition is None:
                    document["flags"].pop(key, None)
                else:
                    document["flags"][key] = definition
            self._install(int(data["version"]), document, "flag service")
            return True
        except DefinitionError as exc:
            log.error(
                "flags: the service sent flags that do not compile (%s); keeping the "
                "last good ones",
                exc,
            )
            return True


def _restart_in_child() -> None:
    for client in list(_CLIENTS):
        client._after_fork_in_child()


os.register_at_fork(after_in_child=_restart_in_child)
