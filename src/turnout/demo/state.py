"""The mutable part of a running demo app: draining, the request count, random draws."""

from __future__ import annotations

import random

from turnout.demo.release import DemoRelease

__all__ = ["DemoState"]


class DemoState:
    """Shared by every request of one process. Not thread-safe beyond the GIL's
    guarantees, which is all the counters and draws need."""

    def __init__(self, release: DemoRelease) -> None:
        self.release = release
        self.draining = False
        self.served = 0
        seed = release.seed
        # Two generators, so changing the error rate leaves the conversion draws alone.
        self._errors = random.Random(seed)
        self._conversions = random.Random(None if seed is None else seed + 1)

    def start_draining(self) -> None:
        """From now on /healthz answers 503 and responses carry Connection: close."""
        self.draining = True

    @property
    def healthy(self) -> bool:
        return not (self.release.never_healthy or self.draining)

    def admit(self) -> bool:
        """Count one request; False when ``crash_after_requests`` says to die instead."""
        limit = self.release.crash_after_requests
        if limit is not None and self.served >= limit:
            return False
        self.served += 1
        return True

    def draw_home(self) -> tuple[int, bool]:
        """Status and conversion flag of the next ``GET /``."""
        release = self.release
        failed = release.error_rate > 0 and self._errors.random() < release.error_rate
        converted = (
            release.conversion_rate > 0 and self._conversions.random() < release.conversion_rate
        )
        return (500 if failed else 200), converted
