"""``Experiments``: assign units in-process, log exposures and events in batches.

    from turnout.experiments import Experiments

    exp = Experiments.connect("http://127.0.0.1:8002")     # the controller's API
    variant = exp.assign("checkout-button", user.id)        # "off" / "on"; logs the exposure
    exp.track(user.id, "purchase", 49.0)                    # a conversion with a value
    exp.close()                                             # flushes what is queued

Assignment is a hash and a range lookup on the running experiments' layouts (fetched
at ``connect`` and refreshed every ``refresh_interval`` seconds): no I/O on the call.
Exposures and events go into a bounded in-memory queue that a daemon thread posts
to ``POST /v1/experiments/events`` every ``flush_interval`` seconds, or as soon as
``batch_size`` are waiting. Every event carries a random id made when it is logged,
so a batch re-sent after a timeout is counted once (the service ignores ids it has).
A unit's exposure is also sent once per process and phase (a bounded memory of the
units already sent); the service counts it once whatever the SDKs send.

Forks (gunicorn ``--preload``, multiprocessing): ``os.register_at_fork`` gives the
child an empty queue, fresh locks and its own flush thread, as the flag SDK does;
the parent keeps sending what it had queued.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from turnout.experiments.assign import Layout, assign
from turnout.experiments.model import ExperimentSpec

__all__ = ["Experiments", "Running"]

log = logging.getLogger("turnout.experiments")
_SDKS: weakref.WeakSet[Experiments] = weakref.WeakSet()
BACKOFF_MIN, BACKOFF_MAX = 0.1, 10.0
SEEN_MAX = 100_000  # units whose exposure this process remembers having sent


@dataclass(frozen=True)
class Running:
    """A running experiment as the SDK needs it."""

    spec: ExperimentSpec
    layout: Layout
    phase: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Running:
        return cls(
            ExperimentSpec.model_validate(data["spec"]),
            Layout.from_json(data["layout"]),
            int(data["phase"]),
        )


class Experiments:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        refresh_interval: float = 10.0,
        max_queue: int = 100_000,
        timeout: float = 5.0,
    ) -> None:
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("batch_size must be >= 1 and max_queue >= batch_size")
        self.url = url.rstrip("/") if url else None
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.refresh_interval = refresh_interval
        self.max_queue = max_queue
        self.timeout = timeout
        self.experiments: dict[str, Running] = {}
        self.sent = 0  # events the service accepted or already had
        self.dropped = 0  # events dropped because the queue was full
        self._reset_state()

    def _reset_state(self) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._seen: OrderedDict[tuple[str, int, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, token: str | None = None, **options: Any) -> Experiments:
        """Fetch the running experiments from the controller, then keep them current and
        send events from a background thread."""
        sdk = cls(url, token, **options)
        sdk.refresh()
        sdk.start()
        return sdk

    def start(self) -> None:
        if self.url is None:
            raise ValueError("no url: give the controller's API to send events")
        _SDKS.add(self)
        self._thread = threading.Thread(target=self._run, name="turnout-experiments", daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        """Fetch the running experiments now (errors are logged; the last ones stay)."""
        if self.url is None:
            return
        try:
            response = httpx.get(
                f"{self.url}/v1/experiments",
                params={"status": "running", "layouts": "1"},
                headers=self.headers,
                timeout=self.timeout,
            )
            response.raise_for_status()
            found = [Running.from_json(e) for e in response.json()["experiments"]]
            self.experiments = {r.spec.key: r for r in found}
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("experiments: cannot fetch from %s (%s)", self.url, exc)

    def install(self, running: Running) -> None:
        """Serve ``running`` (tests, or definitions obtained another way)."""
        self.experiments = {**self.experiments, running.spec.key: running}

    # --- the calls (no I/O) ---------------------------------------------------------------

    def assign(self, key: str, unit: str, *, expose: bool = True) -> str | None:
        """The variant of ``unit`` in running experiment ``key`` (None when it does not
        run, or when it is release-level: the router assigns those; report what it
        labelled with ``expose``); logs the unit's exposure unless ``expose=False``."""
        running = self.experiments.get(key)
        if running is None or running.spec.kind == "release":  # the router assigns those
            return None
        variant = assign(unit, running.spec.assignment_seed, running.layout)
        if expose:
            self._expose(key, running.phase, unit, variant)
        return variant

    def value(self, key: str, unit: str, flags: Any, default: Any = None) -> Any:
        """For a ``flag`` experiment: the value of the assigned variant in the flag's
        definition held by a ``turnout.flags.Flags`` (``default`` when not running)."""
        running = self.experiments.get(key)
        variant = self.assign(key, unit)
        if running is None or variant is None or running.spec.flag is None:
            return default
        snapshot = flags.snapshot
        flag = snapshot.document.flags.get(running.spec.flag) if snapshot else None
        if flag is None or variant not in flag.variants:
            return default
        return flag.variants[variant]

    def expose(self, key: str, unit: str, variant: str, at: float | None = None) -> None:
        """Log that ``unit`` saw ``variant`` (e.g. the cohort the router labelled)."""
        running = self.experiments.get(key)
        self._expose(key, running.phase if running else 0, unit, variant, at)

    def track(
        self,
        unit: str,
        event: str,
        value: float = 1.0,
        at: float | None = None,
        *,
        event_id: str | None = None,
    ) -> None:
        """Log an event of ``unit`` (a conversion, a purchase with its amount, ...).
        ``event_id`` (default: a random one) makes logging the same event again harmless."""
        item = {"type": "event", "unit": str(unit), "name": event, "value": float(value)}
        if event_id is not None:
            item["id"] = event_id
        self._put(item, at)

    def _expose(
        self, key: str, phase: int, unit: str, variant: str, at: float | None = None
    ) -> None:
        mark = (key, phase, str(unit))
        with self._lock:
            if mark in self._seen:
                return
            self._seen[mark] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
        event = {"type": "exposure", "experiment": key, "unit": str(unit), "variant": variant}
        self._put(event, at)

    def _put(self, event: dict[str, Any], at: float | None) -> None:
        event.setdefault("id", uuid.uuid4().hex)
        event["at"] = time.time() if at is None else at
        with self._lock:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            full = len(self._queue) >= self.batch_size
        if full:
            self._wake.set()

    # --- sending ----------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything logged so far was sent (True) or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
                self._wake.set()
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (waiting at most ``timeout``), then stop the thread."""
        if self._thread is not None:
            self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Experiments:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._in_flight = len(batch)
        return batch

    def _done(self, batch: list[dict[str, Any]], ok: bool) -> None:
        with self._idle:
            if not ok:
                self._queue.extendleft(reversed(batch))  # same ids: a re-send is idempotent
            self._in_flight = 0
            self._idle.notify_all()

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        last_refresh = time.monotonic()
        with httpx.Client(headers=self.headers, timeout=self.timeout) as http:
            while True:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                if time.monotonic() - last_refresh >= self.refresh_interval:
                    self.refresh()
                    last_refresh = time.monotonic()
                while self._queue:
                    batch = self._take()
                    ok = self._send(http, batch)
                    self._done(batch, ok)
                    if not ok:
                        if self._stop.wait(backoff * random.uniform(0.8, 1.2)):
                            return
                        backoff = min(backoff * 2, BACKOFF_MAX)
                        break
                    backoff = BACKOFF_MIN
                if self._stop.is_set():
                    return

    def _send(self, http: httpx.Client, batch: list[dict[str, Any]]) -> bool:
        try:
            response = http.post(f"{self.url}/v1/experiments/events", json={"events": batch})
        except httpx.HTTPError as exc:
            log.info("experiments: sending %d events failed (%s); will retry", len(batch), exc)
            return False
        if response.status_code >= 500:
            return False
        if response.status_code >= 400:  # the batch itself is wrong: retrying cannot help
            log.error("experiments: %d events refused: %s", len(batch), response.text.strip())
            return True
        data = response.json()
        self.sent += int(data.get("accepted", 0)) + int(data.get("duplicates", 0))
        return True

    def _after_fork_in_child(self) -> None:
        running = self._thread is not None and not self._stop.is_set()
        self._reset_state()
        if running:
            self.start()


def _restart_in_child() -> None:
    for sdk in list(_SDKS):
        with contextlib.suppress(Exception):
            sdk._after_fork_in_child()


os.register_at_fork(after_in_child=_restart_in_child)
