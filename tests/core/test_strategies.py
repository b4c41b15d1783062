"""Strategy plans, checked by simulating them on plain values."""

from __future__ import annotations

import pytest

from turnout.core.config import DeployConfig, RollingConfig, SmokeCheck, SmokeConfig
from turnout.core.plan import (
    Analyze,
    AwaitHealthy,
    Drain,
    KeepWarm,
    MarkGood,
    Pause,
    Route,
    Start,
    Stop,
    Watch,
    describe,
    dump_plan,
    load_plan,
)
from turnout.core.strategies import PlanContext, plan_deploy, plan_rollback


def ctx(n=4, current="old", strategy_cfg=None, **deploy):
    old_ids = tuple(f"old-{i}" for i in range(n)) if current else ()
    return PlanContext(
        new="new", current=current, current_instances=old_ids, instances=n,
        deploy=DeployConfig(**({"rolling": strategy_cfg} if strategy_cfg else {}), **deploy),
    )  # fmt: skip


class Sim:
    """Applies a plan to a model: running instances per release, and checks capacity."""

    def __init__(self, c: PlanContext):
        self.running = {"old": list(c.current_instances), "new": []}
        self.healthy = set(c.current_instances)
        self.weights: dict[str, int] = {"old": 100} if c.current_instances else {}
        self.events: list[str] = []
        self.max_total = 0
        self.min_available = 10**9

    def available(self) -> int:
        return sum(
            1 for r, ids in self.running.items() if self.weights.get(r, 0) > 0
            for i in ids if i in self.healthy
        )  # fmt: skip

    def apply(self, plan):
        for step in plan:
            match step:
                case Start(release=r, group=g, count=c):
                    have = sum(1 for i in self.running[r] if i.startswith(f"{r}-{g}-"))
                    self.running[r] += [f"{r}-{g}-{k}" for k in range(have, c)]
                case AwaitHealthy(release=r):
                    self.healthy.update(self.running[r])
                case Route(proportional=True, releases=rs):
                    self.weights = {r: len(self.running[r]) for r in rs}
                case Route(weights=w):
                    self.weights = dict(w)
                case Drain(instances=ids) if ids:
                    for r in self.running:
                        self.running[r] = [i for i in self.running[r] if i not in ids]
                case Drain(release=r):
                    self.events.append(f"drain {r}")
                case Stop(release=r) if r:
                    self.running[r] = []
                case Stop():
                    pass
                case _:
                    self.events.append(step.kind)
            total = sum(len(v) for v in self.running.values())
            self.max_total = max(self.max_total, total)
            if any(isinstance(step, k) for k in (Route, Drain, Stop)):
                self.min_available = min(self.min_available, self.available())


@pytest.mark.parametrize(
    ("n", "surge", "unavailable", "batch"),
    [
        (4, 1, 0, 1),
        (4, 2, 0, 2),
        (4, 0, 1, 1),
        (5, 1, 1, 2),
        (3, 3, 0, 3),
        (1, 1, 0, 1),
        (10, 3, 2, 2),
    ],
)
def test_rolling_respects_surge_and_unavailable(n, surge, unavailable, batch):
    c = ctx(
        n=n,
        strategy_cfg=RollingConfig(max_surge=surge, max_unavailable=unavailable, batch_size=batch),
    )
    plan = plan_deploy("rolling", c)
    sim = Sim(c)
    sim.apply(plan)
    assert sim.running["old"] == [] and len(sim.running["new"]) == n
    assert sim.max_total <= n + surge
    assert sim.min_available >= n - unavailable
    assert sim.weights == {"new": 100}
    assert isinstance(plan[-1], MarkGood)


def test_rolling_waits_for_health_before_stopping_old_instances():
    plan = plan_deploy("rolling", ctx(n=2))
    kinds = [s.kind for s in plan]
    assert kinds[:6] == ["start", "route", "await_healthy", "drain", "stop", "route"]
    drained = [s for s in plan if isinstance(s, Drain)]
    assert [d.instances for d in drained] == [["old-0"], ["old-1"]]


def test_bluegreen_switches_only_after_health_and_smoke():
    c = ctx(n=3, smoke=SmokeConfig(checks=[SmokeCheck(path="/")]), keep_warm=60.0)
    plan = plan_deploy("bluegreen", c)
    kinds = [s.kind for s in plan]
    switch = next(
        i for i, s in enumerate(plan) if isinstance(s, Route) and s.weights.get("new") == 100
    )
    assert kinds.index("await_healthy") < kinds.index("smoke") < switch
    assert plan[1] == Route(weights={"old": 100, "new": 0}, preview="new")
    assert plan[switch] == Route(weights={"new": 100, "old": 0})
    assert isinstance(plan[switch + 1], Watch)
    assert Drain(release="old", timeout=30.0) in plan
    assert KeepWarm(release="old", duration=60.0) in plan
    assert not any(isinstance(s, Stop) for s in plan)  # the old side stays warm


def test_bluegreen_pause_for_a_human_before_the_switch():
    c = ctx(bluegreen={"pause_before_switch": True})
    plan = plan_deploy("bluegreen", c)
    pause = next(i for i, s in enumerate(plan) if isinstance(s, Pause))
    switch = next(
        i for i, s in enumerate(plan) if isinstance(s, Route) and s.weights.get("new") == 100
    )
    assert pause == switch - 1


def test_bluegreen_without_keep_warm_removes_the_old_side_from_the_table():
    plan = plan_deploy("bluegreen", ctx(keep_warm=0.0))
    assert not any(isinstance(s, KeepWarm) for s in plan)
    assert Route(weights={"new": 100}) in plan


def test_recreate_stops_before_starting():
    plan = plan_deploy("recreate", ctx(n=2))
    assert plan[0] == Stop(release="old")
    assert isinstance(plan[1], Start) and plan[1].count == 2


@pytest.mark.parametrize("strategy", ["recreate", "rolling", "bluegreen"])
def test_first_deploy_starts_routes_and_marks_good(strategy):
    plan = plan_deploy(strategy, ctx(n=2, current=None))
    sim = Sim(ctx(n=2, current=None))
    sim.apply(plan)
    assert len(sim.running["new"]) == 2 and sim.weights == {"new": 100}
    assert plan[-1] == MarkGood(release="new")


def test_unknown_strategy():
    with pytest.raises(
        ValueError, match="unknown strategy 'hotswap'; valid: recreate, rolling, bluegreen, canary"
    ):
        plan_deploy("hotswap", ctx())


def canary_ctx(**canary):
    from turnout.core.config import CanaryConfig

    return ctx(n=4, canary=CanaryConfig(**canary))


def test_canary_steps_weights_pauses_and_analyses_then_promotes_the_verified_instances():
    c = canary_ctx(
        steps=[
            {"weight": 10, "pause": "30s"},
            {"analysis": "default"},
            {"weight": 50},
            {"pause": "until-promoted"},
        ],
        background_analysis="bg",
        instances=1,
    )
    plan = plan_deploy("canary", c)
    kinds = [s.kind for s in plan]
    assert plan[0] == Start(release="new", group="canary", count=1)
    assert plan[1] == Route(weights={"new": 0, "old": 100}, canary="new")
    assert kinds[2:4] == ["await_healthy", "analyze"]
    assert plan[3] == Analyze(analysis="bg", release="new", baseline="old", blocking=False)
    assert plan[4] == Route(weights={"new": 10, "old": 90}, canary="new")
    assert plan[5] == Pause(reason="canary at 10%", duration=30.0)
    assert plan[6] == Analyze(analysis="default", release="new", baseline="old")
    assert plan[7] == Route(weights={"new": 50, "old": 50}, canary="new")
    assert plan[8].kind == "pause" and plan[8].duration is None
    # Promotion: the same group grows to full size (no new rollout of the old fleet).
    assert plan[9] == Start(release="new", group="canary", count=4)
    switch = next(
        i for i, s in enumerate(plan) if isinstance(s, Route) and s.weights.get("new") == 100
    )
    assert kinds.index("stop_analysis") < switch < kinds.index("watch")
    assert plan[-1] == MarkGood(release="new")
    sim = Sim(c)
    sim.apply(plan)
    assert len(sim.running["new"]) == 4 and sim.running["old"] == [] and sim.weights == {"new": 100}


def test_sticky_canary_lists_the_canary_first():
    plan = plan_deploy("canary", canary_ctx(sticky=True, steps=[{"weight": 20}]))
    routes = [s for s in plan if isinstance(s, Route) and s.canary]
    assert routes and all(s.sticky for s in routes)
    assert all(next(iter(s.weights)) == "new" for s in routes)


def test_first_canary_deploy_goes_live_like_bluegreen():
    plan = plan_deploy("canary", ctx(current=None))
    assert plan == plan_deploy("bluegreen", ctx(current=None))


def test_rollback_in_the_warm_window_is_a_routing_flip_first():
    plan = plan_rollback("good", "bad", {"good": 3, "bad": 3}, 3, 60, 30)
    assert plan[0] == Route(weights={"good": 100, "bad": 0})
    assert not any(isinstance(s, Start) for s in plan)
    assert plan[-1] == Route(weights={"good": 100})


def test_rollback_mid_rolling_restarts_missing_good_instances_before_stopping_bad():
    plan = plan_rollback("good", "bad", {"good": 1, "bad": 2}, 3, 60, 30)
    kinds = [s.kind for s in plan]
    assert plan[0] == Route(weights={"good": 100, "bad": 0})
    start = next(s for s in plan if isinstance(s, Start))
    assert start.count == 2 and start.release == "good"
    assert kinds.index("await_healthy") < kinds.index("stop")


def test_rollback_after_recreate_keeps_serving_what_it_can_until_good_is_healthy():
    plan = plan_rollback("good", "bad", {"bad": 2}, 2, 60, 30)
    assert plan[0] == Start(release="good", group="rollback", count=2)
    assert plan[1] == Route(weights={"good": 0, "bad": 100})
    assert plan[3] == Route(weights={"good": 100, "bad": 0})


def test_rollback_of_a_first_deploy_takes_it_out():
    plan = plan_rollback(None, "bad", {"bad": 1}, 1, 60, 30)
    assert plan == [Route(weights={}), Drain(release="bad", timeout=30), Stop(release="bad")]


def test_plans_round_trip_through_json_and_describe():
    plan = plan_deploy("bluegreen", ctx(smoke=SmokeConfig(command="./smoke.sh")))
    assert load_plan(dump_plan(plan)) == plan
    lines = [describe(s, {"new": "r2", "old": "r1"}) for s in plan]
    assert lines[0] == "start 4 instances of r2 (green)"
    assert "route r1=100, r2=0 (preview: r2)" in lines
    assert "smoke checks on r2" in lines
