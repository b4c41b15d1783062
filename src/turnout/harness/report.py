"""The report of a load run: its summary as values, as JSON, and as a few lines of text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from turnout.harness.accounting import Latency, Outcome, Summary, summarize
from turnout.harness.spec import LoadSpec

__all__ = ["Report", "build_report"]


@dataclass(frozen=True)
class Report:
    spec: LoadSpec
    started_at: datetime
    duration_s: float  # the load window: from the start until the run was told to stop
    total_s: float  # the window plus the time requests in flight took to finish
    summary: Summary
    outcomes: tuple[Outcome, ...]

    # The numbers a test asserts on most, without reaching into the summary.
    @property
    def sent(self) -> int:
        return self.summary.sent

    @property
    def ok(self) -> int:
        return self.summary.ok

    @property
    def failed(self) -> int:
        return self.summary.failed

    @property
    def failed_by_kind(self) -> dict[str, int]:
        return self.summary.failed_by_kind

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return self.summary.first_failures

    def share(self, release: str) -> float:
        """Fraction of the successful responses that ``release`` served."""
        return self.summary.share(release)

    def to_dict(self, *, outcomes: bool = False) -> dict[str, Any]:
        """A JSON-ready form; ``outcomes=True`` adds every request (large)."""
        s = self.summary
        data: dict[str, Any] = {
            "target": self.spec.authority,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "total_s": round(self.total_s, 3),
            "sent": s.sent,
            "ok": s.ok,
            "failed": s.failed,
            "failed_by_kind": s.failed_by_kind,
            "latency_ms": _latency(s.latency),
            "by_client": {
                name: {
                    "sent": c.sent,
                    "ok": c.ok,
                    "failed": c.failed,
                    "latency_ms": _latency(c.latency),
                }
                for name, c in s.by_client.items()
            },
            "ok_by_release": s.ok_by_release,
            "conversions_by_release": s.conversions_by_release,
            "first_seen_s": _rounded(s.first_seen),
            "last_seen_s": _rounded(s.last_seen),
            "timeline": [
                {"start_s": round(b.start, 3), "ok_by_release": b.ok_by_release, "failed": b.failed}
                for b in s.timeline
            ],
            "longest_gap_s": None
            if s.longest_gap is None
            else {
                "start": round(s.longest_gap.start, 6),
                "end": round(s.longest_gap.end, 6),
                "seconds": round(s.longest_gap.seconds, 6),
            },
            "switch": None
            if s.switch is None
            else {
                "at_s": round(s.switch.at, 3),
                "from": s.switch.from_release,
                "to": s.switch.to_release,
            },
            "first_failures": [o.to_dict() for o in s.first_failures],
            "spec": self.spec.model_dump(mode="json"),
        }
        if outcomes:
            data["outcomes"] = [o.to_dict() for o in self.outcomes]
        return data

    def to_json(self, *, indent: int | None = 2, outcomes: bool = False) -> str:
        return json.dumps(self.to_dict(outcomes=outcomes), indent=indent)

    def text(self) -> str:
        """A short summary for people."""
        s = self.summary
        rate = s.sent / self.duration_s if self.duration_s > 0 else 0.0
        verdict = "no failures" if s.failed == 0 else f"{s.failed} FAILED"
        lines = [
            f"{s.sent} requests in {self.duration_s:.1f} s ({rate:.0f}/s) to "
            f"{self.spec.authority}: {s.ok} ok, {verdict}"
        ]
        if s.failed_by_kind:
            lines.append("failures: " + ", ".join(f"{k} {n}" for k, n in s.failed_by_kind.items()))
        if s.latency is not None:
            lat = s.latency
            lines.append(
                f"latency ms: p50 {lat.p50:.2f}, p95 {lat.p95:.2f}, "
                f"p99 {lat.p99:.2f}, max {lat.max:.2f}"
            )
        if s.ok_by_release:
            shares = ", ".join(f"{r} {s.share(r):.1%}" for r in s.ok_by_release)
            lines.append(f"releases: {shares}")
        if s.switch is not None:
            lines.append(
                f"switch: {s.switch.from_release} -> {s.switch.to_release} at {s.switch.at:.1f} s"
            )
        if s.longest_gap is not None:
            lines.append(
                f"longest gap without a success: {s.longest_gap.seconds * 1000:.0f} ms "
                f"(from {s.longest_gap.start:.2f} s)"
            )
        for o in s.first_failures[:5]:
            lines.append(f"  {o.end:8.3f} s {o.client} {o.kind} ({o.stage}): {o.detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def _latency(latency: Latency | None) -> dict[str, float] | None:
    if latency is None:
        return None
    return {k: round(v, 3) for k, v in asdict(latency).items()}


def _rounded(times: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in times.items()}


def build_report(
    spec: LoadSpec,
    outcomes: Sequence[Outcome],
    started_at: datetime,
    window: float,
    total: float,
) -> Report:
    """The report of a run whose load window was ``window`` s and that ended after ``total`` s."""
    summary = summarize(
        outcomes, duration=window, bucket_s=spec.bucket_s, first_failures=spec.first_failures
    )
    return Report(spec, started_at, window, total, summary, tuple(outcomes))
