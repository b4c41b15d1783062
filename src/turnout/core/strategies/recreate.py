"""Recreate: stop the old release, then start the new one.

Kept as the baseline every naive deploy is: between the stop and the new
instances passing their health checks, requests fail. The demo and the tests
use it to show that the harness sees downtime.
"""

from __future__ import annotations

from turnout.core.plan import AwaitHealthy, MarkGood, Route, Step, Stop
from turnout.core.plan import Start as StartStep
from turnout.core.strategies.context import PlanContext


def plan_recreate(ctx: PlanContext) -> list[Step]:
    steps: list[Step] = []
    if ctx.current is not None and ctx.current_instances:
        steps.append(Stop(release=ctx.current))
    steps += [
        StartStep(release=ctx.new, group="main", count=ctx.instances),
        Route(weights={ctx.new: 100}),
        AwaitHealthy(release=ctx.new, timeout=ctx.deploy.timeout),
        MarkGood(release=ctx.new),
    ]
    return steps
