"""Active health state of one instance: rise/fall counting as a transition table.

An instance starts ``UNKNOWN``. ``rise`` consecutive passed checks make it
``HEALTHY``; ``fall`` consecutive failed checks make it ``UNHEALTHY``. A check
that agrees with the current status resets the opposite streak. Only ``HEALTHY``
instances receive traffic when a pool has active checks (invariant 1 in
docs/architecture.md).

This is the same counting HAProxy does with ``rise``/``fall``; unlike HAProxy,
a new instance is not assumed up: it must earn ``rise`` passes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Health(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthState:
    status: Health = Health.UNKNOWN
    passes: int = 0  # consecutive passed checks
    fails: int = 0  # consecutive failed checks


def observe(state: HealthState, passed: bool, rise: int, fall: int) -> HealthState:
    """The state after one check result. Pure; ``rise`` and ``fall`` are >= 1."""
    if passed:
        passes = state.passes + 1
        if state.status is not Health.HEALTHY and passes >= rise:
            return HealthState(Health.HEALTHY, passes, 0)
        return HealthState(state.status, passes, 0)
    fails = state.fails + 1
    if state.status is not Health.UNHEALTHY and fails >= fall:
        return HealthState(Health.UNHEALTHY, 0, fails)
    return HealthState(state.status, 0, fails)


def parse_status_ranges(spec: str) -> tuple[tuple[int, int], ...]:
    """``"200-399"`` or ``"200,204,300-308"`` → inclusive ranges; ``ValueError`` if malformed."""
    ranges: list[tuple[int, int]] = []
    for raw in spec.split(","):
        part = raw.strip()
        low_s, sep, high_s = part.partition("-")
        try:
            low = int(low_s)
            high = int(high_s) if sep else low
        except ValueError:
            raise ValueError(
                f"{spec!r} is not a status list; use e.g. '200-399' or '200,204'"
            ) from None
        if not (100 <= low <= high <= 599):
            raise ValueError(f"{part!r} is not a range of HTTP statuses between 100 and 599")
        ranges.append((low, high))
    return tuple(ranges)


def status_expected(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= status <= high for low, high in ranges)
