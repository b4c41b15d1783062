"""Rolling: replace instances batch by batch, with Kubernetes' surge/unavailable rules.

At every moment the number of instances is at most ``N + max_surge`` and the
number of available ones at least ``N - max_unavailable`` (both counted in
instances; Kubernetes defaults are 25%, turnout's 1 and 0, i.e. one new
instance at a time, capacity never below N). Each batch: start up to
``batch_size`` new instances, wait until they pass their checks, then drain and
stop as many old ones as the floor allows. Traffic follows instances: each
release's weight is its number of running instances, so every instance takes an
equal share while the two versions run side by side.
"""

from __future__ import annotations

from turnout.core.plan import AwaitHealthy, Drain, MarkGood, Route, Start, Step, Stop, Watch
from turnout.core.strategies.context import PlanContext


def plan_rolling(ctx: PlanContext) -> list[Step]:
    new, old, d = ctx.new, ctx.current, ctx.deploy
    n = ctx.instances
    if ctx.first or old is None:
        return [
            Start(release=new, group="batch-0", count=n),
            Route(weights={new: 100}),
            AwaitHealthy(release=new, timeout=d.timeout),
            MarkGood(release=new),
        ]
    r = d.rolling
    surge, unavailable, batch = r.max_surge, r.max_unavailable, r.batch_size
    remaining_old = list(ctx.current_instances)
    started = 0
    steps: list[Step] = []
    round_ = 0
    while started < n or remaining_old:
        # Scale up: total stays within N + surge; never more than N new.
        up = min(n + surge - (len(remaining_old) + started), n - started, batch)
        if up > 0:
            steps += [
                Start(release=new, group=f"batch-{round_}", count=up),
                Route(proportional=True, releases=[old, new]),
                AwaitHealthy(release=new, group=f"batch-{round_}", timeout=d.timeout),
            ]
            started += up
        # Scale down: available (old + healthy new) stays at or above N - unavailable.
        down = min(len(remaining_old) + started - (n - unavailable), len(remaining_old), batch)
        if down > 0:
            victims, remaining_old = remaining_old[:down], remaining_old[down:]
            steps += [
                Drain(instances=victims, timeout=d.drain_timeout),
                Stop(instances=victims),
                Route(proportional=True, releases=[old, new]),
            ]
        if up <= 0 and down <= 0:  # pragma: no cover - the config forbids surge = unavailable = 0
            raise ValueError("rolling update cannot progress with max_surge = max_unavailable = 0")
        round_ += 1
    steps += [
        Route(weights={new: 100}),
        Watch(release=new, duration=d.watch),
        MarkGood(release=new),
    ]
    return steps
