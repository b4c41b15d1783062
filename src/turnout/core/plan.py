"""Plans: what a strategy decided, as data.

A plan is an immutable list of single-kind steps. The engine executes them one by
one, journaling each before and after; every step is idempotent (it converges
towards what it says rather than repeating an action), so a controller killed
mid-step re-runs the step on restart and ends where it would have.

Steps name releases by id and instances by id; weights map release ids to
integers. ``Route`` with ``proportional=True`` gives each release a weight equal
to the number of its running instances, so a rolling update spreads load evenly
over old and new instances.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from turnout.core.validation import StrictModel

__all__ = [
    "Analyze",
    "AwaitHealthy",
    "Drain",
    "KeepWarm",
    "MarkGood",
    "Pause",
    "Plan",
    "Route",
    "Smoke",
    "Start",
    "Step",
    "Stop",
    "StopAnalysis",
    "Watch",
    "describe",
    "dump_plan",
    "load_plan",
]


class Start(StrictModel):
    """Ensure ``count`` instances of ``release`` exist in ``group`` (starts the missing)."""

    kind: Literal["start"] = "start"
    release: str
    group: str
    count: int = Field(ge=0)


class AwaitHealthy(StrictModel):
    """Wait until every running instance of ``release`` (in ``group``, if given) is
    routable in the router; fails on timeout or when one of them exits."""

    kind: Literal["await_healthy"] = "await_healthy"
    release: str
    group: str | None = None
    timeout: float


class Route(StrictModel):
    """Install a route table built from the running instances; acknowledged by generation.
    Pools with a weight above 0 are also made ready (un-drained)."""

    kind: Literal["route"] = "route"
    weights: dict[str, int] = Field(default_factory=dict)
    proportional: bool = False  # weights = running instances per release in ``releases``
    releases: list[str] = Field(default_factory=list)  # releases to include at weight 0
    preview: str | None = None  # release reachable through the preview header
    canary: str | None = None  # release reachable through the canary override header/cookie
    sticky: bool = False  # weights count users (a cookie), canary listed first


class Drain(StrictModel):
    """Stop new requests to a release or to instances; wait for in-flight to reach 0."""

    kind: Literal["drain"] = "drain"
    release: str | None = None
    instances: list[str] = Field(default_factory=list)
    timeout: float


class Stop(StrictModel):
    """Stop a release's instances (or the listed ones): signal, grace, then SIGKILL."""

    kind: Literal["stop"] = "stop"
    release: str | None = None
    instances: list[str] = Field(default_factory=list)


class Smoke(StrictModel):
    """Run the smoke checks against ``release`` (through the preview route)."""

    kind: Literal["smoke"] = "smoke"
    release: str


class Pause(StrictModel):
    """Wait for ``turnout promote`` (or ``duration`` seconds); ``turnout abort`` rolls back."""

    kind: Literal["pause"] = "pause"
    reason: str
    duration: float | None = None  # None: until promoted


class Watch(StrictModel):
    """Fail if an instance of ``release`` exits or turns unhealthy within ``duration``."""

    kind: Literal["watch"] = "watch"
    release: str
    duration: float


class KeepWarm(StrictModel):
    """Keep ``release`` running at weight 0 for ``duration`` (an instant rollback target),
    then stop it; the deploy does not wait for the window to end."""

    kind: Literal["keep_warm"] = "keep_warm"
    release: str
    duration: float


class Analyze(StrictModel):
    """Judge ``release`` against ``baseline`` with ``[analysis.<analysis>]``. Blocking: the
    step ends with the verdict (a fail rolls back). Background: it starts a judge that
    runs alongside the next steps until ``StopAnalysis``; a fail at any moment rolls back."""

    kind: Literal["analyze"] = "analyze"
    analysis: str
    release: str
    baseline: str
    blocking: bool = True


class StopAnalysis(StrictModel):
    """End the background analysis (the canary was promoted)."""

    kind: Literal["stop_analysis"] = "stop_analysis"


class MarkGood(StrictModel):
    """Record ``release`` as the last good release (the rollback target)."""

    kind: Literal["mark_good"] = "mark_good"
    release: str


Step = Annotated[
    Start
    | AwaitHealthy
    | Route
    | Drain
    | Stop
    | Smoke
    | Pause
    | Watch
    | KeepWarm
    | Analyze
    | StopAnalysis
    | MarkGood,
    Field(discriminator="kind"),
]
Plan = list[Step]

_PLAN = TypeAdapter(list[Step])


def dump_plan(plan: list[Step]) -> str:
    return _PLAN.dump_json(plan).decode()


def load_plan(text: str | bytes) -> list[Step]:
    return _PLAN.validate_json(text)


def _short(release: str | None) -> str:
    return (release or "")[:12]


def describe(step: Step, names: dict[str, str] | None = None) -> str:
    """One line for people: ``start 2 instances of r3``."""
    names = names or {}

    def n(release: str | None) -> str:
        return names.get(release or "", _short(release))

    match step:
        case Start(release=r, count=c, group=g):
            return f"start {c} instance{'s' if c != 1 else ''} of {n(r)} ({g})"
        case AwaitHealthy(release=r):
            return f"wait until {n(r)} is healthy"
        case Route(proportional=True):
            return "route by instance count"
        case Route(weights=w, preview=p, canary=c):
            split = ", ".join(f"{n(r)}={v}" for r, v in w.items()) or "nothing"
            extra = f" (preview: {n(p)})" if p else (f" (override: {n(c)})" if c else "")
            return f"route {split}{extra}"
        case Drain(release=r, instances=i):
            return f"drain {n(r)}" if r else f"drain {len(i)} instance{'s' if len(i) != 1 else ''}"
        case Stop(release=r, instances=i):
            return f"stop {n(r)}" if r else f"stop {len(i)} instance{'s' if len(i) != 1 else ''}"
        case Smoke(release=r):
            return f"smoke checks on {n(r)}"
        case Pause(reason=why, duration=d):
            return f"pause: {why}" + (f" ({d:g}s)" if d else " (until promoted)")
        case Watch(release=r, duration=d):
            return f"watch {n(r)} for {d:g}s"
        case KeepWarm(release=r, duration=d):
            return f"keep {n(r)} warm for {d:g}s"
        case Analyze(analysis=a, release=r, baseline=b, blocking=True):
            return f"analysis {a}: {n(r)} against {n(b)}"
        case Analyze(analysis=a, release=r, baseline=b):
            return f"start background analysis {a}: {n(r)} against {n(b)}"
        case StopAnalysis():
            return "stop the background analysis"
        case MarkGood(release=r):
            return f"mark {n(r)} good"
    return step.kind  # pragma: no cover - every kind is matched above
