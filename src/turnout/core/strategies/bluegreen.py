"""Blue/green: a full new set beside the old one, checked through a preview route,
then all traffic switched in one acknowledged route change.

1. start N instances of the new release (green) beside the old ones (blue);
2. route: blue keeps 100, green joins at 0, reachable with the preview header;
3. wait until every green instance passes its health checks;
4. smoke checks through the preview route (if configured);
5. optionally pause for a human (``turnout promote``);
6. switch: green 100, blue 0 — one table, one generation;
7. watch green for ``deploy.watch`` (an exit or failed check rolls back);
8. drain blue (in-flight requests finish), keep it warm for ``keep_warm`` so a
   rollback is a routing flip, then stop it.
"""

from __future__ import annotations

from turnout.core.plan import (
    AwaitHealthy,
    Drain,
    KeepWarm,
    MarkGood,
    Pause,
    Route,
    Smoke,
    Start,
    Step,
    Watch,
)
from turnout.core.strategies.context import PlanContext


def plan_bluegreen(ctx: PlanContext) -> list[Step]:
    new, old, d = ctx.new, ctx.current, ctx.deploy
    if ctx.first or old is None:
        return [
            Start(release=new, group="green", count=ctx.instances),
            Route(weights={new: 0}, preview=new),
            AwaitHealthy(release=new, timeout=d.timeout),
            *([Smoke(release=new)] if ctx.has_smoke else []),
            Route(weights={new: 100}),
            MarkGood(release=new),
        ]
    steps: list[Step] = [
        Start(release=new, group="green", count=ctx.instances),
        Route(weights={old: 100, new: 0}, preview=new),
        AwaitHealthy(release=new, timeout=d.timeout),
    ]
    if ctx.has_smoke:
        steps.append(Smoke(release=new))
    if d.bluegreen.pause_before_switch:
        steps.append(Pause(reason="green is ready; promote to switch traffic"))
    steps += [
        Route(weights={new: 100, old: 0}),
        Watch(release=new, duration=d.watch),
        Drain(release=old, timeout=d.drain_timeout),
    ]
    if d.keep_warm > 0:
        steps.append(KeepWarm(release=old, duration=d.keep_warm))
    else:
        steps.append(Route(weights={new: 100}))
    steps.append(MarkGood(release=new))
    return steps
