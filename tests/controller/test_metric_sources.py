"""Metric sources for canary analysis: the router's own counters, and a real
Prometheus scraping the router's /metrics, agree on what happened."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from turnout.controller.metrics import PrometheusSource, RouterSource, per_bucket
from turnout.controller.traffic import RouterTraffic
from turnout.core.config import PrometheusSource as PrometheusConfig


def two_pools(router, recorder_factory):
    good, bad = recorder_factory(), recorder_factory()
    bad.behaviour.status = 503
    router.put_routes(
        {"pools": {"stable": {"instances": [good.address]}, "canary": {"instances": [bad.address]}},
         "weights": {"stable": 70, "canary": 30}}
    )  # fmt: skip
    with httpx.Client() as c:
        for _ in range(200):
            c.get(router.url("/"))
    return len(good.requests), len(bad.requests)


def test_router_source_counts_requests_errors_and_latency(router, recorder_factory):
    stable, canary = two_pools(router, recorder_factory)

    async def read():
        traffic = RouterTraffic(router.admin_address, None)
        try:
            return await RouterSource(traffic).counts(["stable", "canary", "absent"])
        finally:
            await traffic.close()

    counts = asyncio.run(read())
    assert (counts["stable"].requests, counts["stable"].errors) == (stable, 0)
    assert (counts["canary"].requests, counts["canary"].errors) == (canary, canary)
    assert sum(counts["canary"].latency) == canary
    assert len(counts["canary"].latency) == len(counts["canary"].bounds) + 1
    assert counts["absent"].requests == 0


@pytest.mark.slow
def test_prometheus_source_reads_what_prometheus_scraped_from_the_router(
    router, recorder_factory, prometheus_factory
):
    prom = prometheus_factory([router.admin_address])
    stable, canary = two_pools(router, recorder_factory)
    deadline = time.monotonic() + 20
    while True:  # wait until a scrape after the traffic landed
        result = prom.wait_for('sum(turnout_requests_total{pool="canary"})')
        if int(float(result[0]["value"][1])) == canary or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    async def read():
        source = PrometheusSource(PrometheusConfig(url=prom.url))
        try:
            return await source.counts(["stable", "canary", "absent"])
        finally:
            await source.close()

    counts = asyncio.run(read())
    assert (counts["stable"].requests, counts["stable"].errors) == (stable, 0)
    assert (counts["canary"].requests, counts["canary"].errors) == (canary, canary)
    assert sum(counts["canary"].latency) == canary
    assert counts["canary"].bounds[:2] == (0.0005, 0.001)
    assert counts["absent"].requests == 0


def test_prometheus_source_errors_name_the_server():
    async def read():
        source = PrometheusSource(PrometheusConfig(url="http://127.0.0.1:9"))
        try:
            return await source.counts(["x"])
        finally:
            await source.close()

    from turnout.errors import SystemFault

    with pytest.raises(SystemFault, match=r"prometheus http://127\.0\.0\.1:9"):
        asyncio.run(read())


def test_le_buckets_become_per_bucket_counts():
    series = [
        {"metric": {"le": "0.1"}, "value": [0, "5"]},
        {"metric": {"le": "+Inf"}, "value": [0, "9"]},
        {"metric": {"le": "0.01"}, "value": [0, "2"]},
    ]
    assert per_bucket(series) == ((2, 3, 4), (0.01, 0.1))
