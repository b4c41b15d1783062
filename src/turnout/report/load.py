"""Timelines and summary rows from a load run (``turnout.harness`` reports)."""

from __future__ import annotations

from collections.abc import Sequence

from turnout.harness.report import Report
from turnout.report.timeline import Marker, Timeline, from_load


def load_summary(report: Report) -> list[tuple[str, str]]:
    s = report.summary
    rate = s.sent / report.duration_s if report.duration_s else 0.0
    rows = [
        ("requests", f"{s.sent} in {report.duration_s:.1f}s ({rate:.0f}/s)"),
        ("failed", str(s.failed) if not s.failed_by_kind else
         f"{s.failed} ({', '.join(f'{k} {n}' for k, n in s.failed_by_kind.items())})"),
    ]  # fmt: skip
    if s.latency is not None:
        lat = s.latency
        rows.append(
            ("latency", f"p50 {lat.p50:.1f} ms, p95 {lat.p95:.1f} ms, p99 {lat.p99:.1f} ms")
        )
    if s.ok_by_release:
        rows.append(("served by", ", ".join(f"{r} {n}" for r, n in s.ok_by_release.items())))
    if s.switch is not None:
        rows.append(
            ("switch", f"{s.switch.from_release} -> {s.switch.to_release} at {s.switch.at:.1f}s")
        )
    if s.longest_gap is not None:
        rows.append(
            ("longest gap", f"{s.longest_gap.seconds * 1000:.0f} ms at {s.longest_gap.start:.1f}s")
        )
    return rows


def load_timeline(
    report: Report, title: str, marks: Sequence[Marker] = (), extra: Sequence[tuple[str, str]] = ()
) -> Timeline:
    return from_load(
        report.outcomes,
        report.spec.bucket_s,
        title,
        report.started_at.timestamp(),
        marks,
        [*extra, *load_summary(report)],
        until=report.duration_s,
    )
