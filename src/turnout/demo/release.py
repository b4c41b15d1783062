"""What one release of the demo app does: its name, version and injected faults.

A ``DemoRelease`` is plain data. It comes from command-line flags, a release
folder's ``release.toml`` or ``TURNOUT_DEMO_ARGS``; ``turnout.demo.options`` does
the parsing, this module only holds and validates the values.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from turnout.errors import UserError

__all__ = ["DemoRelease", "load_release_file"]

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class DemoRelease:
    """The behaviour of one release of the demo app (see docs/example-app.md)."""

    name: str = "shop"
    version: str = "v1"
    error_rate: float = 0.0  # fraction of GET / answered 500
    conversion_rate: float = 0.0  # fraction of GET / carrying X-Converted: 1
    seed: int | None = None  # seeds the error and conversion draws
    latency_ms: int = 0  # added to every GET /
    start_delay_ms: int = 0  # sleep before listening
    crash_at_start: bool = False  # exit 1 before listening
    never_healthy: bool = False  # /healthz always 503
    crash_after_requests: int | None = None  # os._exit(70) on request N+1

    def __post_init__(self) -> None:
        for field_name in ("name", "version"):
            value = getattr(self, field_name)
            if not _TOKEN.match(value):
                raise UserError(
                    f"{field_name}: {value!r}: use 1-64 letters, digits, '.', '_' or '-'"
                )
        for field_name in ("error_rate", "conversion_rate"):
            rate = getattr(self, field_name)
            if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
                raise UserError(f"{field_name}: {rate!r}: must be a fraction in 0..1")
        for field_name in ("latency_ms", "start_delay_ms"):
            if not 0 <= getattr(self, field_name) <= 600_000:
                raise UserError(f"{field_name}: {getattr(self, field_name)!r}: must be 0..600000")
        if self.crash_after_requests is not None and self.crash_after_requests < 0:
            raise UserError(f"crash_after_requests: {self.crash_after_requests!r}: must be >= 0")

    @property
    def label(self) -> str:
        """``shop v2``: how the release names itself in bodies and logs."""
        return f"{self.name} {self.version}"


def release_keys() -> tuple[str, ...]:
    return tuple(f.name for f in fields(DemoRelease))


def load_release_file(path: Path) -> dict[str, Any]:
    """The keys of a ``release.toml`` (flat, the flag names with ``_``), checked."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the release file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(release_keys()))
    if unknown:
        valid = ", ".join(release_keys())
        raise UserError(f"{path}: unknown key {unknown[0]!r}; valid keys: {valid}")
    return data
