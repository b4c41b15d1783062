"""The flag service inside the controller: OFREP evaluation, a change stream, management.

Mounted on the controller's API (``FlagService.mount(routes)``):

- OFREP (OpenFeature Remote Evaluation Protocol, github.com/open-feature/protocol):
  ``POST /ofrep/v1/evaluate/flags/{key}``, ``POST /ofrep/v1/evaluate/flags`` (bulk, with
  an ETag and ``If-None-Match`` -> 304), ``GET /ofrep/v1/configuration``.
- ``GET /v1/flagset/stream``: Server-Sent Events. On connect one ``snapshot`` event
  (``{"version", "document"}``), then one ``change`` event per write
  (``{"version", "base", "at", "flags": {key: definition or null}}``; a change of
  ``$evaluators`` or metadata is sent as a new ``snapshot``). ``id:`` is the version, so
  a client whose version is not ``base`` knows it missed one and reconnects. A comment
  line every ``heartbeat`` seconds keeps proxies from closing the stream.
- Management: ``GET /v1/flags``, ``GET|PUT|DELETE /v1/flags/{key}`` (ETag and
  ``If-Match: "<flag version>"``), ``POST /v1/flags/{key}/state``,
  ``POST /v1/flags/{key}/rollout``, ``GET /v1/flags/{key}/history``,
  ``GET|PUT /v1/flagset`` (export/import; ``If-Match: "<flag-set version>"``),
  ``GET /v1/flagset/history``.

Writes need the controller's token. Reads (OFREP, the stream, GETs) are open unless
``[flags] read_token`` is set; then they need that token or the controller's. Every
write is validated as a whole flag set before it is stored: a bad definition is a 400
naming the flag and the path, and the live flags are untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from turnout.errors import ConflictError, TurnoutError, UserError
from turnout.flags.edit import describe_split, rollout, with_state
from turnout.flags.evaluate import ErrorCode, Evaluation, Reason, Snapshot, build
from turnout.flags.model import flag_path, validate_document, validate_flag
from turnout.flags.store import FlagStore, Written, normalize_url
from turnout.httpapi import Request, Response, Routes, StreamResponse

__all__ = ["FlagNotFound", "FlagService", "Unauthorized"]

log = logging.getLogger("turnout.flags")
MAX_QUEUED = 256  # events a slow stream client may lag behind before it is cut off


class FlagNotFound(TurnoutError):
    exit_code = 2
    http_status = 404


class Unauthorized(TurnoutError):
    exit_code = 2
    http_status = 401


class _Subscriber:
    __slots__ = ("items", "overflow", "wake")

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()
        self.overflow = False
        self.wake = asyncio.Event()

    def push(self, item: bytes) -> None:
        if len(self.items) >= MAX_QUEUED:
            self.overflow = True  # it reconnects and starts again from a snapshot
        else:
            self.items.append(item)
        self.wake.set()


def sse(event: str, version: int, data: dict[str, Any]) -> bytes:
    return f"id: {version}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


class FlagService:
    def __init__(
        self,
        store: FlagStore,
        read_token: str | None = None,
        admin_token: str | None = None,
        heartbeat: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.read_tokens = (
            [t.encode() for t in (read_token, admin_token) if t] if read_token else []
        )
        self.heartbeat = heartbeat
        self.clock = clock
        version, document = store.load()
        self.snapshot = build(validate_document(document, "flag store"), version, "flag store")
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    @classmethod
    def open(
        cls,
        database: str | None,
        read_token: str | None,
        state_dir: Path,
        root: Path,
        admin_token: str | None,
    ) -> FlagService:
        url = normalize_url(database or f"sqlite:///{state_dir / 'flags.db'}", root)
        return cls(FlagStore(url), read_token, admin_token)

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.wake.set()
        self.store.close()

    def mount(self, routes: Routes) -> None:
        add = routes.add
        add("POST", "/ofrep/v1/evaluate/flags/{key}", self.ofrep_one, public=True)
        add("POST", "/ofrep/v1/evaluate/flags", self.ofrep_bulk, public=True)
        add("GET", "/ofrep/v1/configuration", self.ofrep_configuration)
        add("GET", "/v1/flagset/stream", self.stream)
        add("GET", "/v1/flagset/history", self.flagset_history)
        add("GET", "/v1/flagset", self.export)
        add("PUT", "/v1/flagset", self.import_)
        add("GET", "/v1/flags", self.list_flags)
        add("GET", "/v1/flags/{key}", self.get_flag)
        add("PUT", "/v1/flags/{key}", self.put_flag)
        add("DELETE", "/v1/flags/{key}", self.delete_flag)
        add("POST", "/v1/flags/{key}/state", self.set_state)
        add("POST", "/v1/flags/{key}/rollout", self.set_rollout)
        add("GET", "/v1/flags/{key}/history", self.flag_history)

    # --- auth -----------------------------------------------------------------------------

    def _read_allowed(self, request: Request) -> None:
        if not self.read_tokens:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        token = given.strip().encode()
        if scheme.lower() != "bearer" or not any(
            hmac.compare_digest(token, t) for t in self.read_tokens
        ):
            raise Unauthorized("a valid bearer token (flags.read_token) is required to read flags")

    # --- OFREP ----------------------------------------------------------------------------

    async def ofrep_one(self, request: Request) -> Response:
        self._read_allowed(request)
        key = request.params["key"]
        context = _ofrep_context(request)
        if isinstance(context, Response):
            return context
        evaluator = self.snapshot.evaluators.get(key)
        if evaluator is None:
            return Response(
                404,
                {
                    "key": key,
                    "errorCode": ErrorCode.FLAG_NOT_FOUND,
                    "errorDetails": f"no flag {key!r}",
                },
            )
        body = _ofrep_result(key, evaluator(None, context))
        return Response(400 if "errorCode" in body else 200, body)

    async def ofrep_bulk(self, request: Request) -> Response:
        self._read_allowed(request)
        context = _ofrep_context(request)
        if isinstance(context, Response):
            return context
        snapshot = self.snapshot
        digest = hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode())
        etag = f'"{snapshot.version}-{digest.hexdigest()[:16]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(304, body=b"", headers={"ETag": etag})
        flags = [
            _ofrep_result(k, ev(None, context)) for k, ev in sorted(snapshot.evaluators.items())
        ]
        return Response(200, {"flags": flags}, headers={"ETag": etag})

    async def ofrep_configuration(self, request: Request) -> Response:
        self._read_allowed(request)
        return Response(
            200,
            {
                "name": "turnout",
                "capabilities": {
                    "cacheInvalidation": {
                        "polling": {"enabled": True, "minPollingIntervalMs": 1000}
                    },
                    "flagEvaluation": {
                        "supportedTypes": ["int", "float", "string", "boolean", "object"]
                    },
                },
            },
        )

    # --- the stream ---------------------------------------------------------------------------

    async def stream(self, request: Request) -> StreamResponse:
        self._read_allowed(request)
        sub = _Subscriber()
        snapshot = self.snapshot  # taken with the subscription: no change falls between
        self._subscribers.add(sub)
        first = b"retry: 1000\n\n" + _snapshot_event(snapshot)
        return StreamResponse(200, self._events(sub, first), headers={"X-Accel-Buffering": "no"})

    async def _events(self, sub: _Subscriber, first: bytes) -> AsyncIterator[bytes]:
        try:
            yield first
            while not self._closed:
                try:
                    await asyncio.wait_for(sub.wake.wait(), self.heartbeat)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                sub.wake.clear()
                if sub.overflow or self._closed:
                    return
                while sub.items:
                    yield sub.items.popleft()
        finally:
            self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self, written: Written, snapshot: Snapshot, at: float) -> None:
        if written.document_changed:
            event = _snapshot_event(snapshot)
        else:
            flags = snapshot.document.flags
            event = sse(
                "change",
                written.version,
                {
                    "version": written.version,
                    "base": written.version - 1,
                    "at": at,
                    "flags": {
                        k: flags[k].to_json() if k in flags else None for k in written.changed
                    },
                },
            )
        for sub in list(self._subscribers):
            sub.push(event)

    # --- writes ---------------------------------------------------------------------------

    def _commit(
        self,
        document: dict[str, Any],
        base: int,
        request: Request,
        action: str,
        at: float,
        expect: dict[str, int | None] | None = None,
    ) -> tuple[Written, Snapshot]:
        candidate = build(validate_document(document, "request"), base, "request")
        user = _user(request)
        written = self.store.write(document, base, user, action, at, expect)
        snapshot = replace(candidate, version=written.version)
        if written.changed or written.document_changed:
            self.snapshot = snapshot
            self._publish(written, snapshot, at)
            log.info(
                "flags v%d: %s %s by %s",
                written.version,
                action,
                ", ".join(written.changed) or "(evaluators/metadata)",
                user,
            )
        return written, snapshot

    def _change_flag(
        self,
        request: Request,
        key: str,
        action: str,
        edit: Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any] | None],
        expect: dict[str, int | None] | None = None,
    ) -> Response:
        at = self.clock()
        base, document = self.store.load()
        before = document["flags"].get(key)
        after = edit(before, document)
        if after is None:
            document["flags"].pop(key, None)
        else:
            document["flags"][key] = after
        written, snapshot = self._commit(document, base, request, action, at, expect)
        prefix = flag_path("flags", key)
        return Response(
            200,
            {
                "key": key,
                "version": written.flag_versions.get(key, self._flag_version(key)),
                "flagset_version": written.version,
                "changed": key in written.changed,
                "warnings": [
                    w for w in snapshot.warnings if f" {prefix}." in w or f" {prefix}:" in w
                ],
            },
        )

    def _flag_version(self, key: str) -> int | None:
        row = self.store.flag(key)
        return int(row["version"]) if row else None

    def _existing(self, key: str, before: dict[str, Any] | None) -> dict[str, Any]:
        if before is None:
            raise FlagNotFound(f"no flag {key!r}; 'turnout flags list' shows the flags")
        return before

    async def put_flag(self, request: Request) -> Response:
        key = request.params["key"]
        body = request.json()
        definition = body.get("definition")
        if not isinstance(definition, dict):
            raise UserError(
                "request body: 'definition' (a flagd flag definition object) is required"
            )
        expect = _expect(request, key)

        def edit(before: dict[str, Any] | None, doc: dict[str, Any]) -> dict[str, Any]:
            validate_flag(key, definition, "request", doc.get("$evaluators", {}))
            return definition

        return self._change_flag(request, key, "set", edit, expect)

    async def delete_flag(self, request: Request) -> Response:
        key = request.params["key"]

        def edit(before: dict[str, Any] | None, doc: dict[str, Any]) -> None:
            self._existing(key, before)

        return self._change_flag(request, key, "delete", edit, _expect(request, key))

    async def set_state(self, request: Request) -> Response:
        key = request.params["key"]
        state = request.json().get("state")
        if state not in ("ENABLED", "DISABLED"):
            raise UserError('request body: "state" must be "ENABLED" or "DISABLED"')
        action = "enable" if state == "ENABLED" else "disable"

        def edit(before: dict[str, Any] | None, doc: dict[str, Any]) -> dict[str, Any]:
            flag = validate_flag(key, self._existing(key, before), "flag store")
            return with_state(flag, state)

        return self._change_flag(request, key, action, edit)

    async def set_rollout(self, request: Request) -> Response:
        key = request.params["key"]
        body = request.json()
        percent, variant = body.get("percent"), body.get("variant")
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise UserError("request body: 'percent' (a number from 0 to 100) is required")
        if variant is not None and not isinstance(variant, str):
            raise UserError("request body: 'variant' must be a variant name")

        def edit(before: dict[str, Any] | None, doc: dict[str, Any]) -> dict[str, Any]:
            flag = validate_flag(key, self._existing(key, before), "flag store")
            return rollout(flag, float(percent), variant)

        return self._change_flag(request, key, "rollout", edit)

    async def import_(self, request: Request) -> Response:
        at = self.clock()
        body = request.json()
        incoming = body.get("document")
        mode = body.get("mode", "merge")
        if mode not in ("merge", "replace"):
            raise UserError('request body: "mode" must be "merge" or "replace"')
        parsed = validate_document(incoming, "request")  # the import alone must be valid
        base, document = self.store.load()
        if_match = request.headers.get("if-match")
        if if_match is not None and if_match.strip('"') != str(base):
            raise _conflict_version(base, if_match)
        if mode == "replace":
            document = parsed.to_json()
        else:
            document["flags"].update(parsed.to_json()["flags"])
            if parsed.evaluators:
                document["$evaluators"] = {**document.get("$evaluators", {}), **parsed.evaluators}
            if parsed.metadata:
                document["metadata"] = {**document.get("metadata", {}), **parsed.metadata}
        written, snapshot = self._commit(document, base, request, "import", at)
        return Response(
            200,
            {
                "version": written.version,
                "changed": list(written.changed),
                "warnings": list(snapshot.warnings),
            },
        )

    # --- reads ----------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        self._read_allowed(request)
        version, document = self.store.load()
        return Response(
            200, {"version": version, "document": document}, headers={"ETag": f'"{version}"'}
        )

    async def list_flags(self, request: Request) -> Response:
        self._read_allowed(request)
        snapshot = self.snapshot
        rows = {r["key"]: r for r in self.store.flags()}
        out = []
        for key, flag in sorted(snapshot.document.flags.items()):
            row = rows.get(key, {})
            out.append(
                {
                    "key": key,
                    "state": flag.state,
                    "kind": flag.kind,
                    "default_variant": flag.default_variant,
                    "variants": list(flag.variants),
                    "targeting": bool(flag.targeting),
                    "split": describe_split(flag),
                    "version": row.get("version"),
                    "updated_at": row.get("updated_at"),
                    "updated_by": row.get("updated_by"),
                }
            )
        return Response(200, {"version": snapshot.version, "flags": out})

    async def get_flag(self, request: Request) -> Response:
        self._read_allowed(request)
        key = request.params["key"]
        row = self.store.flag(key)
        if row is None:
            raise FlagNotFound(f"no flag {key!r}; 'turnout flags list' shows the flags")
        payload = {**row, "flagset_version": self.snapshot.version}
        return Response(200, payload, headers={"ETag": f'"{row["version"]}"'})

    async def flag_history(self, request: Request) -> Response:
        self._read_allowed(request)
        key = request.params["key"]
        entries = self.store.history(key, _limit(request))
        if not entries and key not in self.snapshot.document.flags:
            raise FlagNotFound(f"no flag {key!r} and no history of one")
        return Response(200, {"key": key, "history": entries})

    async def flagset_history(self, request: Request) -> Response:
        self._read_allowed(request)
        return Response(200, {"history": self.store.history(None, _limit(request))})


def _snapshot_event(snapshot: Snapshot) -> bytes:
    document = snapshot.document.to_json()
    return sse("snapshot", snapshot.version, {"version": snapshot.version, "document": document})


def _ofrep_context(request: Request) -> dict[str, Any] | Response:
    try:
        body = request.json()
    except UserError as exc:
        return Response(400, {"errorCode": "PARSE_ERROR", "errorDetails": exc.message})
    context = body.get("context", {})
    if not isinstance(context, dict):
        return Response(
            400, {"errorCode": "INVALID_CONTEXT", "errorDetails": "context must be a JSON object"}
        )
    return context


def _ofrep_result(key: str, result: Evaluation) -> dict[str, Any]:
    """OFREP's success or failure object. Without a value (disabled, no default variant)
    the provider uses the code default (OFREP ADR-0006)."""
    if result.reason == Reason.ERROR:
        return {
            "key": key,
            "errorCode": result.error_code or ErrorCode.GENERAL,
            "errorDetails": result.error_message or "",
        }
    out: dict[str, Any] = {
        "key": key,
        "reason": result.reason,
        "metadata": dict(result.flag_metadata),
    }
    if result.variant is not None:
        out["value"] = result.value
        out["variant"] = result.variant
    return out


def _expect(request: Request, key: str) -> dict[str, int | None] | None:
    if_match = request.headers.get("if-match")
    if request.headers.get("if-none-match") == "*":
        return {key: None}
    if if_match is None:
        return None
    try:
        return {key: int(if_match.strip().strip('"'))}
    except ValueError:
        raise UserError(f'If-Match: {if_match!r} is not a flag version like "3"') from None


def _conflict_version(base: int, given: str) -> TurnoutError:
    return ConflictError(
        f"the flags are at version {base}, not {given.strip(chr(34))}; export them again and retry"
    )


def _user(request: Request) -> str:
    body = request.json() if request.body else {}
    user = body.get("user")
    return str(user)[:200] if user else "api"


def _limit(request: Request) -> int:
    try:
        return max(1, min(int(request.query.get("limit", "50")), 1000))
    except ValueError:
        raise UserError(f"limit: {request.query['limit']!r} is not a number") from None
