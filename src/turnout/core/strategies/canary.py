"""Canary: a few instances of the new release take a growing share of the traffic
while a judge compares them with the stable release; a bad canary is rolled back
automatically, a good one is promoted.

1. start ``canary.instances`` instances of the new release; route: stable 100,
   canary 0 but reachable with the override header or cookie (testers);
2. wait until they pass their checks; smoke checks (if configured);
3. start the background analysis (if configured): from now until promotion a
   failed verdict at any moment rolls the deploy back;
4. the configured steps: ``weight`` (a route change, acknowledged), ``pause`` (a
   duration or until ``turnout promote``), ``analysis`` (a blocking judge);
5. promotion: the canary is scaled to ``app.instances`` (its verified instances
   stay and become the stable release: no second rollout), the background
   analysis ends, all traffic switches to it in one route change; then the old
   release is watched-out, drained and stopped.

With ``sticky = true`` weights count users: each client keeps its side as the
canary grows (the canary is listed first, so raising its weight only moves
stable users onto it).
"""

from __future__ import annotations

from turnout.core.plan import (
    Analyze,
    AwaitHealthy,
    Drain,
    MarkGood,
    Pause,
    Route,
    Smoke,
    Start,
    Step,
    Stop,
    StopAnalysis,
    Watch,
)
from turnout.core.strategies.bluegreen import plan_bluegreen
from turnout.core.strategies.context import PlanContext


def plan_canary(ctx: PlanContext) -> list[Step]:
    if ctx.first or ctx.current is None:
        # Nothing to compare with: the first release goes live as in blue/green.
        return plan_bluegreen(ctx)
    new, old, d = ctx.new, ctx.current, ctx.deploy
    c = d.canary

    def route(weight: int) -> Route:
        return Route(weights={new: weight, old: 100 - weight}, canary=new, sticky=c.sticky)

    steps: list[Step] = [
        Start(release=new, group="canary", count=min(c.instances, ctx.instances)),
        route(0),
        AwaitHealthy(release=new, timeout=d.timeout),
    ]
    if ctx.has_smoke:
        steps.append(Smoke(release=new))
    if c.background_analysis:
        steps.append(
            Analyze(analysis=c.background_analysis, release=new, baseline=old, blocking=False)
        )
    weight = 0
    for s in c.steps:
        if s.weight is not None:
            weight = s.weight
            steps.append(route(weight))
        if s.pause is not None:
            seconds = s.pause_seconds
            reason = f"canary at {weight}%" + ("; promote to continue" if seconds is None else "")
            steps.append(Pause(reason=reason, duration=seconds))
        if s.analysis is not None:
            steps.append(Analyze(analysis=s.analysis, release=new, baseline=old))
    steps += [
        Start(release=new, group="canary", count=ctx.instances),
        route(weight),
        AwaitHealthy(release=new, timeout=d.timeout),
    ]
    if c.background_analysis:
        steps.append(StopAnalysis())
    steps += [
        Route(weights={new: 100, old: 0}),
        Watch(release=new, duration=d.watch),
        Drain(release=old, timeout=d.drain_timeout),
        Stop(release=old),
        Route(weights={new: 100}),
        MarkGood(release=new),
    ]
    return steps
