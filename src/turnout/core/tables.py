"""Route tables the control plane asks the router for. Pure: from the running
instances of each release and the weights a step wants, the JSON body of
``PUT /v1/routes``."""

from __future__ import annotations

from typing import Any

from turnout.core.routes import HealthSpec


def proportional(running: dict[str, list[str]], releases: list[str]) -> dict[str, int]:
    """Each release weighs its number of running instances: equal load per instance."""
    return {r: len(running.get(r, [])) for r in releases}


def build_table(
    running: dict[str, list[str]],
    weights: dict[str, int],
    health: dict[str, HealthSpec],
    include: list[str] | None = None,
    preview: str | None = None,
    preview_header: str = "x-turnout-preview",
    canary: str | None = None,
    override_header: str = "x-turnout-canary",
    override_cookie: str = "turnout_canary",
    sticky: bool = False,
) -> dict[str, Any]:
    """Pools for every release in ``weights``, ``include`` and ``preview``; each pool
    lists that release's running instances and its health checks; ``preview`` adds a
    rule that pins requests carrying ``preview_header: <release>`` to that release."""
    names: list[str] = []
    for r in [*weights, *(include or []), *(x for x in (preview, canary) if x)]:
        if r not in names:
            names.append(r)
    pools: dict[str, Any] = {}
    for r in names:
        pool: dict[str, Any] = {"instances": sorted(running.get(r, []))}
        if r in health:
            pool["health"] = health[r].model_dump(mode="json")
        pools[r] = pool
    table: dict[str, Any] = {
        "pools": pools,
        "weights": {r: int(w) for r, w in weights.items() if r in pools},
    }
    rules: list[dict[str, Any]] = []
    if preview:
        rules.append({"header": preview_header, "equals": preview, "pool": preview})
    if canary:
        # Testers reach the canary at any weight, even 0: a header or a cookie.
        rules.append({"header": override_header, "pool": canary})
        rules.append({"cookie": override_cookie, "pool": canary})
    if rules:
        table["rules"] = rules
    if sticky:
        table["sticky"] = {"cookie": "turnout_sticky"}
    return table


def split(table: dict[str, Any]) -> dict[str, float]:
    """The share of new requests each pool gets, in percent (for status displays)."""
    weights = {p: w for p, w in table.get("weights", {}).items() if w > 0}
    total = sum(weights.values())
    return {p: round(100 * w / total, 1) for p, w in weights.items()} if total else {}
