"""Absolute limits on the canary, with Argo Rollouts' measurement semantics.

Every ``interval`` one measurement is taken per metric (``error_rate`` when
``max_error_rate`` is set, ``latency_p99`` when ``max_p99_latency`` is set), over
the canary's requests in that interval. Its phase:

- **error** — nothing to judge: no canary request in the interval (for latency: no
  histogram or no response in it). Argo's Error: the provider returned nothing.
- **failed** — the value is above its limit (``error_rate > max_error_rate``,
  ``p99 > max_p99_latency``).
- **inconclusive** — the value cannot be placed against the limit: the p99 lies in
  the histogram's overflow bucket while the limit is at or above the highest finite
  bound. (The error rate is never inconclusive: its two conditions are complements.)
- **successful** — otherwise.

The first measurement waits for ``min_requests`` canary requests (like Argo's
``initialDelay``, counted in requests) and covers everything since the start;
later ones cover one interval each. Per metric, after each measurement, in Argo's
order (``assessMetricStatus``): failed > failure_limit → **Failed**; inconclusive >
inconclusive_limit → **Inconclusive**; consecutive errors > consecutive_error_limit →
**Error**; ``count`` measurements that were not errors → **Successful**; else it keeps
running (with ``count`` unset it runs until the engine stops it). The limits are
strict: ``failure_limit = 3`` fails on the 4th failed measurement. A measurement that
is not an error resets the consecutive-error streak. The analysis ends as soon as
one metric ends in failed, error or inconclusive (the worst wins: failed > error >
inconclusive), and passes when every metric has reached ``count``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from turnout.core.analysis.measure import (
    Interval,
    Usage,
    in_overflow,
    intervals,
    latency_quantile,
    running_requests,
)
from turnout.core.analysis.model import Judgement, Verdict, Window
from turnout.core.config import AnalysisConfig

__all__ = ["MetricState", "Phase", "assess", "judge_thresholds", "measure"]

HISTORY = 10  # measurements kept per metric in the payload (Argo keeps 10 too)


class Phase(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    RUNNING = "running"  # a metric's phase only: not finished


# Which phase ends the analysis when several metrics end at the same measurement.
_WORST = (Phase.SUCCESSFUL, Phase.INCONCLUSIVE, Phase.ERROR, Phase.FAILED)


@dataclass(frozen=True, slots=True)
class Measurement:
    index: int
    time: float
    phase: Phase
    value: float | None
    requests: int
    why: str


def measure(metric: str, u: Usage, cfg: AnalysisConfig) -> tuple[Phase, float | None, str]:
    """The phase of one measurement of ``metric`` over what the canary served."""
    if metric == "error_rate":
        limit = cfg.max_error_rate
        assert limit is not None
        rate = u.error_rate
        if rate is None:
            return Phase.ERROR, None, "no canary requests in the interval"
        if rate > limit:
            return Phase.FAILED, rate, f"error rate {rate:.3%} > {limit:.3%}"
        return Phase.SUCCESSFUL, rate, f"error rate {rate:.3%} <= {limit:.3%}"
    limit = cfg.max_p99_latency
    assert limit is not None
    p99 = latency_quantile(u, 0.99)
    if p99 is None:
        return Phase.ERROR, None, "no canary latency histogram or responses in the interval"
    ms = 1000 * p99
    if in_overflow(u, 0.99) and limit >= u.bounds[-1]:
        return Phase.INCONCLUSIVE, p99, f"p99 above the histogram's top bound {ms:.0f} ms"
    if p99 > limit:
        return Phase.FAILED, p99, f"p99 {ms:.1f} ms > {1000 * limit:.0f} ms"
    return Phase.SUCCESSFUL, p99, f"p99 {ms:.1f} ms <= {1000 * limit:.0f} ms"


@dataclass(slots=True)
class MetricState:
    """Argo's MetricResult: counters and the phase after the latest measurement."""

    metric: str
    phase: Phase = Phase.RUNNING
    count: int = 0  # measurements that were not errors
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    ended_at: int | None = None  # measurement index at which the phase became final
    history: list[Measurement] = field(default_factory=list)

    def add(self, m: Measurement) -> None:
        if m.phase is Phase.ERROR:
            self.error += 1
            self.consecutive_error += 1
        else:
            self.count += 1
            self.consecutive_error = 0
            if m.phase is Phase.SUCCESSFUL:
                self.successful += 1
            elif m.phase is Phase.FAILED:
                self.failed += 1
            else:
                self.inconclusive += 1
        self.history = [*self.history, m][-HISTORY:]


def assess(state: MetricState, cfg: AnalysisConfig) -> Phase:
    """Argo's ``assessMetricStatus`` for a metric whose last measurement is complete."""
    if state.failed > cfg.failure_limit:
        return Phase.FAILED
    if state.inconclusive > cfg.inconclusive_limit:
        return Phase.INCONCLUSIVE
    if state.consecutive_error > cfg.consecutive_error_limit:
        return Phase.ERROR
    if cfg.count is not None and state.count >= cfg.count:
        return Phase.SUCCESSFUL
    return Phase.RUNNING


def metrics_of(cfg: AnalysisConfig) -> list[str]:
    names = []
    if cfg.max_error_rate is not None:
        names.append("error_rate")
    if cfg.max_p99_latency is not None:
        names.append("latency_p99")
    return names


def run(cfg: AnalysisConfig, done: Sequence[Interval]) -> tuple[list[MetricState], int]:
    """Feed the measurements in order until the analysis ends; returns the metric
    states and how many measurements were used."""
    states = [MetricState(name) for name in metrics_of(cfg)]
    used = 0
    for iv in done:
        used = iv.index
        for st in states:
            if st.phase is not Phase.RUNNING:
                continue
            phase, value, why = measure(st.metric, iv.canary, cfg)
            st.add(Measurement(iv.index, iv.time, phase, value, iv.canary.requests, why))
            st.phase = assess(st, cfg)
            if st.phase is not Phase.RUNNING:
                st.ended_at = iv.index
        if any(s.phase not in (Phase.RUNNING, Phase.SUCCESSFUL) for s in states):
            break
        if all(s.phase is Phase.SUCCESSFUL for s in states):
            break
    return states, used


def _measurement(m: Measurement) -> dict[str, Any]:
    return {
        "index": m.index,
        "time": m.time,
        "phase": m.phase.value,
        "value": m.value,
        "requests": m.requests,
        "why": m.why,
    }


def _payload(
    states: Sequence[MetricState], cfg: AnalysisConfig, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "judge": "thresholds",
        "limits": {
            "max_error_rate": cfg.max_error_rate,
            "max_p99_latency": cfg.max_p99_latency,
            "failure_limit": cfg.failure_limit,
            "inconclusive_limit": cfg.inconclusive_limit,
            "consecutive_error_limit": cfg.consecutive_error_limit,
            "count": cfg.count,
            "interval": cfg.interval,
            "min_requests": cfg.min_requests,
        },
        "metrics": {
            s.metric: {
                "phase": s.phase.value,
                "count": s.count,
                "successful": s.successful,
                "failed": s.failed,
                "inconclusive": s.inconclusive,
                "error": s.error,
                "consecutive_error": s.consecutive_error,
                "measurements": [_measurement(m) for m in s.history],
            }
            for s in states
        },
        **extra,
    }


_ENDINGS = {
    Phase.FAILED: (Verdict.FAIL, "failure_limit_exceeded", "failed", "failure_limit"),
    Phase.INCONCLUSIVE: (
        Verdict.INCONCLUSIVE, "inconclusive_limit_exceeded", "inconclusive", "inconclusive_limit",
    ),
    Phase.ERROR: (
        Verdict.ERROR, "consecutive_error_limit_exceeded", "consecutive_error",
        "consecutive_error_limit",
    ),
}  # fmt: skip


def judge_thresholds(cfg: AnalysisConfig, window: Window) -> Judgement:
    names = metrics_of(cfg)
    if not names:
        return Judgement(
            Verdict.ERROR, "no_metrics",
            "the thresholds judge has nothing to check: set max_error_rate or max_p99_latency",
            {"judge": "thresholds"},
        )  # fmt: skip
    served = running_requests(window.canary)
    so_far = served[-1] if served else 0
    base = {"canary_requests": so_far, "elapsed": window.elapsed}
    if so_far < cfg.min_requests or len(window.times) < 2:
        need = max(1, cfg.min_requests - so_far)
        return Judgement(
            Verdict.NOT_ENOUGH_DATA, "too_few_requests",
            f"{so_far} canary requests so far; measuring starts at {cfg.min_requests}",
            _payload([], cfg, base), need,
        )  # fmt: skip
    first = next(i for i, n in enumerate(served) if n >= cfg.min_requests)
    states, used = run(cfg, intervals(window, cfg.interval, first_end=first))
    payload = _payload(states, cfg, {**base, "measurements_taken": used})
    ended = [s for s in states if s.phase not in (Phase.RUNNING, Phase.SUCCESSFUL)]
    if ended:
        worst = max(ended, key=lambda s: _WORST.index(s.phase))
        verdict, reason, counter, limit_name = _ENDINGS[worst.phase]
        last = worst.history[-1]
        message = (
            f"{worst.metric}: {getattr(worst, counter)} {counter.replace('_', ' ')} "
            f"measurement(s) > {limit_name} {getattr(cfg, limit_name)} "
            f"(measurement {last.index}: {last.why})"
        )
        return Judgement(verdict, reason, message, payload)
    if states and all(s.phase is Phase.SUCCESSFUL for s in states):
        return Judgement(
            Verdict.PASS, "count_reached",
            f"{cfg.count} measurements within limits ({', '.join(names)})", payload,
        )  # fmt: skip
    if used == 0:
        return Judgement(
            Verdict.RUNNING, "measuring",
            f"first measurement at the next {cfg.interval:g}s boundary", payload,
        )  # fmt: skip
    summary = "; ".join(f"{s.metric} {s.history[-1].why}" for s in states if s.history)
    of = f" of {cfg.count}" if cfg.count is not None else ""
    return Judgement(Verdict.RUNNING, "measuring", f"measurement {used}{of}: {summary}", payload)
