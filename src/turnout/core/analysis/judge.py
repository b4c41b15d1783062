"""The one entry point the engine calls: ``judge(cfg, window)``.

Deterministic and pure. It is called again with a longer window after every
sample (about once a second) and answers ``RUNNING`` or ``NOT_ENOUGH_DATA`` (with
``needed``, the canary requests still needed, when it knows) until it can decide,
then ``PASS``, ``FAIL``, ``INCONCLUSIVE`` or ``ERROR``. ``measurements`` holds the
numbers behind the answer as plain JSON values. docs/analysis.md describes each
judge, its reason codes and its guarantees.
"""

from __future__ import annotations

from turnout.core.analysis.mannwhitney import judge_mann_whitney
from turnout.core.analysis.model import Judgement, Verdict, Window
from turnout.core.analysis.sequential import judge_sequential
from turnout.core.analysis.thresholds import judge_thresholds
from turnout.core.config import AnalysisConfig

__all__ = ["judge"]

_MIN_SAMPLES = 2  # a difference needs two samples


def judge(cfg: AnalysisConfig, window: Window) -> Judgement:
    """Dispatch on ``cfg.judge``."""
    if len(window.times) < _MIN_SAMPLES:
        return Judgement(
            Verdict.NOT_ENOUGH_DATA, "no_samples", "waiting for the first two samples",
            {"judge": cfg.judge, "samples": len(window.times)}, max(1, cfg.min_requests),
        )  # fmt: skip
    if cfg.judge == "thresholds":
        return judge_thresholds(cfg, window)
    if cfg.judge == "mann-whitney":
        return judge_mann_whitney(cfg, window)
    return judge_sequential(cfg, window)
