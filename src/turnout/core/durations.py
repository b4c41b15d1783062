"""Durations as people write them in config: ``"250ms"``, ``"1s"``, ``"5m"``, ``"1h"``.

A bare number means seconds. Parsing is strict: anything else is an error that
says what would be valid.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: str | float | int) -> float:
    """Seconds from ``value``; raises ``ValueError`` with a one-line reason."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use e.g. '500ms', '2s', '5m', '1h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; a duration must be >= 0")
        return float(value)
    match = _PATTERN.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration; use e.g. '500ms', '2s', '5m', '1h'")
    number, unit = match.groups()
    return float(number) * _UNITS[unit or "s"]


def format_duration(seconds: float) -> str:
    """The shortest exact-looking form: ``0.25`` → ``"250ms"``, ``90`` → ``"90s"``."""
    if seconds < 1 and seconds * 1000 == int(seconds * 1000):
        return f"{int(seconds * 1000)}ms"
    if seconds == int(seconds):
        whole = int(seconds)
        if whole and whole % 3600 == 0:
            return f"{whole // 3600}h"
        if whole and whole % 60 == 0:
            return f"{whole // 60}m"
        return f"{whole}s"
    return f"{seconds:g}s"
