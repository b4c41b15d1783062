"""Checks of response bodies, fed piece by piece as they arrive. Pure.

``feed`` takes the body's bytes as they come; ``finish`` says what was wrong
with the whole body (a short fact), or None when it was right.
"""

from __future__ import annotations

from typing import Protocol

from turnout.demo.content import pattern

__all__ = ["AnyBody", "BodyCheck", "HomeBody", "PatternBody"]


class BodyCheck(Protocol):
    def feed(self, data: bytes) -> None: ...

    def finish(self, release: str | None) -> str | None: ...


class AnyBody:
    """Any body is right (the status alone decides)."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received = 0

    def feed(self, data: bytes) -> None:
        self.received += len(data)

    def finish(self, release: str | None) -> str | None:
        return None


class PatternBody:
    """The body must be exactly ``pattern(start, length)`` (see turnout.demo.content)."""

    __slots__ = ("_mismatch", "length", "received", "start")

    def __init__(self, start: int, length: int) -> None:
        self.start = start
        self.length = length
        self.received = 0
        self._mismatch: int | None = None

    def feed(self, data: bytes) -> None:
        if self._mismatch is None and self.received < self.length:
            expected = pattern(
                self.start + self.received, min(len(data), self.length - self.received)
            )
            if data[: len(expected)] != expected:
                self._mismatch = self.received + _first_difference(data, expected)
        self.received += len(data)

    def finish(self, release: str | None) -> str | None:
        if self._mismatch is not None:
            return f"body differs from the expected bytes at offset {self._mismatch}"
        if self.received != self.length:
            return f"body has {self.received} bytes, expected {self.length}"
        return None


def _first_difference(data: bytes, expected: bytes) -> int:
    for index, (a, b) in enumerate(zip(data, expected, strict=False)):
        if a != b:
            return index
    return min(len(data), len(expected))


class HomeBody:
    """``GET /`` of the demo app: one line naming the release in ``X-Release``."""

    __slots__ = ("_body",)
    _LIMIT = 1024

    def __init__(self) -> None:
        self._body = b""

    def feed(self, data: bytes) -> None:
        if len(self._body) <= self._LIMIT:
            self._body += data[: self._LIMIT + 1]

    def finish(self, release: str | None) -> str | None:
        if not self._body:
            return "empty body"
        if release is not None and not self._body.endswith(f" {release}\n".encode()):
            return f"body {self._body[:80]!r} does not name release {release!r}"
        return None
