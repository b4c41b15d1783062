"""Running one canary analysis: sample a metric source, ask the judge, remember.

The judges are pure (``turnout.core.analysis``); this is their I/O shell. A run
samples the canary's and the baseline's cumulative counters once a second into a
growing ``Window`` and asks ``judge()`` after every sample. A blocking run ends
with the first final verdict, or ``inconclusive`` after ``duration``. A
background run keeps going until it is cancelled, and ends only to report a
failure. A source that stays silent for ``max(3 intervals, 15 s)`` is an
``error`` verdict: no data where data must be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from turnout.controller.metrics import MetricSource
from turnout.core.analysis.judge import judge
from turnout.core.analysis.model import Counts, Judgement, Verdict, Window
from turnout.core.config import AnalysisConfig
from turnout.errors import TurnoutError

SAMPLE_EVERY = 1.0  # seconds between samples of the metric source
JOURNAL_EVERY = 10.0  # a progress entry at most this often (and on every change of verdict)


class AnalysisRun:
    def __init__(
        self,
        name: str,
        cfg: AnalysisConfig,
        source: MetricSource,
        release: str,
        baseline: str,
        blocking: bool,
        report: Callable[[AnalysisRun, Judgement, bool], None],
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.source = source
        self.release = release
        self.baseline = baseline
        self.blocking = blocking
        self.report = report  # (run, judgement, final) -> None: journal and status
        self.started = time.monotonic()
        self.times: list[float] = []
        self.canary: list[Counts] = []
        self.base: list[Counts] = []
        self.latest: Judgement | None = None

    def view(self) -> dict[str, Any]:
        j = self.latest
        return {
            "analysis": self.name,
            "judge": self.cfg.judge,
            "release": self.release,
            "baseline": self.baseline,
            "blocking": self.blocking,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "samples": len(self.times),
            "verdict": j.verdict.value if j else Verdict.RUNNING.value,
            "reason": j.reason if j else None,
            "message": j.message if j else "collecting the first samples",
            "needed": j.needed if j else None,
            "measurements": j.measurements if j else {},
        }

    async def run(self) -> Judgement:
        cfg = self.cfg
        last_ok = time.monotonic()
        last_report = 0.0
        last_verdict: Verdict | None = None
        silent_limit = max(3 * cfg.interval, 15.0)
        while True:
            now = time.monotonic()
            try:
                counts = await self.source.counts([self.release, self.baseline])
            except TurnoutError as exc:
                if now - last_ok > silent_limit:
                    j = Judgement(
                        Verdict.ERROR, "no_data",
                        f"the {cfg.source} metric source gave no data for {silent_limit:g}s: {exc}",
                    )  # fmt: skip
                    self.latest = j
                    self.report(self, j, True)
                    return j
            else:
                last_ok = now
                self.times.append(now - self.started)
                self.canary.append(counts[self.release])
                self.base.append(counts[self.baseline])
            if len(self.times) >= 2:
                j = judge(cfg, Window(tuple(self.times), tuple(self.canary), tuple(self.base)))
                self.latest = j
                if self.decisive(j):
                    self.report(self, j, True)
                    return j
                if j.verdict != last_verdict or now - last_report >= JOURNAL_EVERY:
                    self.report(self, j, False)
                    last_verdict, last_report = j.verdict, now
            if self.blocking and now - self.started >= cfg.duration:
                j = Judgement(
                    Verdict.INCONCLUSIVE, "duration_exceeded",
                    f"no decision within {cfg.duration:g}s"
                    + (f": {self.latest.message}" if self.latest else ""),
                    self.latest.measurements if self.latest else {},
                    self.latest.needed if self.latest else None,
                )  # fmt: skip
                self.latest = j
                self.report(self, j, True)
                return j
            await asyncio.sleep(SAMPLE_EVERY)

    def decisive(self, j: Judgement) -> bool:
        """Blocking: any final verdict ends the run. Background: only what must stop the
        deploy (a pass now says nothing about the next, larger share of traffic)."""
        if self.blocking:
            return j.final
        if j.verdict in (Verdict.FAIL, Verdict.ERROR):
            return True
        return j.verdict is Verdict.INCONCLUSIVE and self.cfg.on_inconclusive == "rollback"
