"""``Flags``: in-process evaluation from a local snapshot.

    flags = Flags.from_file("flags.json")
    flags = Flags.connect("http://127.0.0.1:8002", token=None, fallback="flags.json")

    result = flags.evaluate("new-checkout", False, {"targetingKey": user.id, "country": "CA"})
    result.value, result.variant, result.reason, result.error_code
    if flags.is_enabled("new-checkout", {"targetingKey": user.id}): ...

An evaluation reads ``self._evaluators`` (one dict, replaced by one assignment when a
new snapshot arrives) and calls the flag's compiled evaluator: no lock, no I/O, safe
from any thread and from coroutines. A connected ``Flags`` is kept current by a
background thread (``turnout.flags.client``) that follows the flag service's event
stream, and restarts itself in a forked child (gunicorn ``--preload``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.flags.evaluate import Evaluation, Evaluator, Snapshot, build, not_found, not_ready
from turnout.flags.model import DefinitionError, parse_document, validate_document

if TYPE_CHECKING:
    from turnout.flags.client import SyncClient

__all__ = ["Flags"]

Listener = Callable[["Snapshot", "Snapshot | None"], None]


class Flags:
    """A set of flags evaluated in this process."""

    __slots__ = (
        "__weakref__",
        "_changed",
        "_client",
        "_evaluators",
        "_listeners",
        "_ready",
        "_snapshot",
    )

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot: Snapshot | None = snapshot
        self._evaluators: Mapping[str, Evaluator] = snapshot.evaluators if snapshot else {}
        self._ready = snapshot is not None
        self._listeners: list[Listener] = []
        self._changed = threading.Condition()
        self._client: SyncClient | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> Flags:
        """Flags from a flagd JSON file; ``DefinitionError`` names the file, flag and path."""
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise DefinitionError(f"{path}: cannot read ({exc.strerror})") from None
        return cls(build(parse_document(text, str(path)), 0, str(path)))

    @classmethod
    def from_dict(cls, definitions: Mapping[str, Any], source: str = "flags") -> Flags:
        """Flags from a parsed flagd document (``{"flags": {...}, "$evaluators": {...}}``)."""
        return cls(build(validate_document(dict(definitions), source), 0, source))

    @classmethod
    def connect(
        cls,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 2.0,
        fallback: str | Path | None = None,
        cache: str | Path | None = None,
    ) -> Flags:
        """Flags kept current from a turnout flag service (the controller's API).

        Fetches the flags first (waiting up to ``timeout`` seconds), then follows the
        service's event stream in a background thread, reconnecting with backoff. When
        the service cannot be reached it serves, in order: the last snapshot saved in
        ``cache`` (written after every update when given), the ``fallback`` file, or
        nothing (evaluations return the caller's default with PROVIDER_NOT_READY) until
        the service answers.
        """
        from turnout.flags.client import SyncClient

        flags = cls()
        client = SyncClient(flags, url, token, cache=Path(cache) if cache else None)
        flags._client = client
        client.start(timeout, Path(fallback) if fallback else None)
        return flags

    def close(self) -> None:
        """Stop following the flag service (a connected ``Flags`` keeps its last snapshot)."""
        if self._client is not None:
            self._client.stop()

    def __enter__(self) -> Flags:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- evaluation (the hot path) ----------------------------------------------------------

    def evaluate(
        self, key: str, default: Any, context: Mapping[str, Any] | None = None
    ) -> Evaluation:
        """Evaluate flag ``key``; ``default`` is returned (with the reason) when the flag
        cannot give a value of its type. ``context`` holds ``targetingKey`` and attributes."""
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            return not_found(key, default) if self._ready else not_ready(key, default)
        return evaluator(default, context)

    def is_enabled(self, key: str, context: Mapping[str, Any] | None = None) -> bool:
        """True when boolean flag ``key`` evaluates to true (false on any error)."""
        evaluator = self._evaluators.get(key)
        return evaluator is not None and evaluator(False, context).value is True

    # --- the snapshot -----------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def version(self) -> int | None:
        """The flag service's version of the flags served (0 for a file; None before any)."""
        return self._snapshot.version if self._snapshot is not None else None

    @property
    def ready(self) -> bool:
        return self._ready

    def keys(self) -> list[str]:
        return sorted(self._evaluators)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(new, old)`` (in the sync thread) after each new snapshot."""
        self._listeners.append(listener)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> bool:
        """Block until the current snapshot satisfies ``predicate`` (or ``timeout``)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._snapshot is not None and predicate(self._snapshot), timeout
            )

    def install(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on (one assignment; evaluations never see half of it)."""
        old = self._snapshot
        self._snapshot = snapshot
        self._evaluators = snapshot.evaluators
        self._ready = True
        with self._changed:
            self._changed.notify_all()
        for listener in list(self._listeners):
            try:
                listener(snapshot, old)
            except Exception:  # a listener's failure must not stop the updates
                import logging

                logging.getLogger("turnout.flags").exception("flag change listener failed")

    def __repr__(self) -> str:
        return f"<Flags {len(self._evaluators)} flags, version {self.version}>"
