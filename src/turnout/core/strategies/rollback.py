"""The way back: from whatever runs when a deploy fails, to the last good release.

Pure: it takes what is running (per release) and returns a plan. Traffic goes back
to the good release as soon as it has running instances (at once in a blue/green
warm window: a routing flip), missing good instances are started and checked,
and only then is the failed release drained and stopped.
"""

from __future__ import annotations

from turnout.core.plan import AwaitHealthy, Drain, Route, Start, Step, Stop


def plan_rollback(
    good: str | None,
    bad: str,
    running: dict[str, int],
    instances: int,
    timeout: float,
    drain_timeout: float,
) -> list[Step]:
    """``running`` counts the running instances of each release now."""
    steps: list[Step] = []
    if good is None or good == bad:
        # Nothing to go back to (a first deploy failed): take the failed release out.
        return [Route(weights={}), Drain(release=bad, timeout=drain_timeout), Stop(release=bad)]
    have = running.get(good, 0)
    if have > 0:
        steps.append(Route(weights={good: 100, bad: 0}))
    missing = instances - have
    if missing > 0:
        weights = {good: 100, bad: 0} if have > 0 else {good: 0, bad: 100}
        steps += [
            Start(release=good, group="rollback", count=missing),
            Route(weights=weights),
            AwaitHealthy(release=good, timeout=timeout),
            Route(weights={good: 100, bad: 0}),
        ]
    if running.get(bad, 0) or missing > 0 or have > 0:
        steps += [Drain(release=bad, timeout=drain_timeout), Stop(release=bad)]
    steps.append(Route(weights={good: 100}))
    return steps
