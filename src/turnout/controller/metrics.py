"""Metric sources for canary analysis: cumulative counters per release, sampled.

- ``RouterSource`` (the default): the router's own per-pool counters and latency
  histograms (``GET /v1/stats``); nothing to set up.
- ``PrometheusSource``: PromQL over Prometheus' HTTP API, for counters that live in
  Prometheus (it can scrape the router's ``/metrics``, or any exporter).

A source that cannot answer raises ``SystemFault``; the engine turns a source
that stays silent into an ``error`` verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from turnout.controller.traffic import Traffic
from turnout.core.analysis.model import Counts
from turnout.core.config import PrometheusSource as PrometheusConfig
from turnout.errors import SystemFault


class MetricSource(Protocol):
    async def counts(self, releases: Sequence[str]) -> dict[str, Counts]: ...


class RouterSource:
    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic

    async def counts(self, releases: Sequence[str]) -> dict[str, Counts]:
        stats = await self.traffic.stats()
        bounds = tuple(float(b) for b in stats["bounds"])
        out = {}
        for r in releases:
            pool = stats["pools"].get(r)
            if pool is None:
                out[r] = Counts(0, 0, (0,) * (len(bounds) + 1), bounds)
                continue
            codes = pool["codes"]
            out[r] = Counts(int(sum(codes)), int(codes[4]), tuple(pool["hist"]), bounds)
        return out


class PrometheusSource:
    def __init__(self, cfg: PrometheusConfig) -> None:
        self.cfg = cfg
        self._http = httpx.AsyncClient(base_url=cfg.url.rstrip("/"), timeout=cfg.timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def _query(self, promql: str) -> list[dict[str, Any]]:
        try:
            response = await self._http.get("/api/v1/query", params={"query": promql})
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SystemFault(f"prometheus {self.cfg.url}: {exc}") from None
        if data.get("status") != "success":
            raise SystemFault(f"prometheus: {data.get('error', 'query failed')}: {promql}")
        return list(data["data"]["result"])

    async def _scalar(self, template: str, release: str) -> int:
        result = await self._query(template.replace("{release}", release))
        if not result:
            return 0  # no series yet: no requests
        return int(float(result[0]["value"][1]))

    async def counts(self, releases: Sequence[str]) -> dict[str, Counts]:
        out = {}
        for r in releases:
            requests = await self._scalar(self.cfg.requests, r)
            errors = await self._scalar(self.cfg.errors, r)
            series = await self._query(self.cfg.latency.replace("{release}", r))
            out[r] = Counts(requests, errors, *per_bucket(series))
        return out


def per_bucket(series: list[dict[str, Any]]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Prometheus ``le`` buckets (cumulative across buckets) to per-bucket counts."""
    points = []
    for s in series:
        le = s.get("metric", {}).get("le")
        if le is None:
            continue
        points.append((math.inf if le == "+Inf" else float(le), int(float(s["value"][1]))))
    points.sort()
    bounds = tuple(b for b, _ in points if b != math.inf)
    counts = []
    previous = 0
    for _, cumulative in points:
        counts.append(max(0, cumulative - previous))
        previous = cumulative
    if len(counts) == len(bounds):  # no +Inf bucket: nothing above the last bound
        counts.append(0)
    return tuple(counts), bounds
