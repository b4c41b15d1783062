"""Strategies: pure functions from (what runs now, the new release, parameters) to a plan.

``plan_deploy`` picks the builder by name; ``plan_rollback`` builds the way back to
the last good release from whatever is running at the moment of failure.
"""

from __future__ import annotations

from turnout.core.plan import Step
from turnout.core.strategies.bluegreen import plan_bluegreen
from turnout.core.strategies.canary import plan_canary
from turnout.core.strategies.context import PlanContext
from turnout.core.strategies.recreate import plan_recreate
from turnout.core.strategies.rollback import plan_rollback
from turnout.core.strategies.rolling import plan_rolling

__all__ = ["PlanContext", "plan_deploy", "plan_rollback"]

BUILDERS = {
    "recreate": plan_recreate,
    "rolling": plan_rolling,
    "bluegreen": plan_bluegreen,
    "canary": plan_canary,
}


def plan_deploy(strategy: str, ctx: PlanContext) -> list[Step]:
    try:
        builder = BUILDERS[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(BUILDERS)}") from None
    return builder(ctx)
