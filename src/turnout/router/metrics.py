"""Prometheus exposition of the router's counters.

The request path only bumps integers on ``Stats`` objects; this collector turns
them into metric families when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from turnout.router.instances import ERROR_KINDS, LATENCY_BOUNDS, Stats

if TYPE_CHECKING:
    from turnout.router.server import Router

CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class RouterCollector:
    def __init__(self, router: Router) -> None:
        self.router = router

    def _series(self) -> Iterator[tuple[str, str, Stats]]:
        for inst in self.router.instances.values():
            yield inst.pool, inst.address, inst.stats
        for pool, stats in self.router.remainders.items():
            yield pool, "", stats

    def collect(self) -> Iterator[Metric]:
        router = self.router
        requests = CounterMetricFamily(
            "turnout_requests",
            "Responses sent to clients, by pool, instance and status class.",
            labels=["pool", "instance", "code_class"],
        )
        duration = HistogramMetricFamily(
            "turnout_request_duration_seconds",
            "From the request head to the end of the response.",
            labels=["pool", "instance"],
        )
        errors = CounterMetricFamily(
            "turnout_upstream_errors",
            "Failed attempts to reach or read an instance, by kind.",
            labels=["pool", "instance", "kind"],
        )
        retries = CounterMetricFamily(
            "turnout_retries",
            "Requests retried away from an instance.",
            labels=["pool", "instance"],
        )
        for pool, addr, st in self._series():
            for i, cls in enumerate(CODE_CLASSES, start=1):
                requests.add_metric([pool, addr, cls], st.codes[i])
            cum = 0
            buckets = []
            for bound, n in zip(LATENCY_BOUNDS, st.hist, strict=False):
                cum += n
                buckets.append((repr(bound), cum))
            buckets.append(("+Inf", cum + st.hist[-1]))
            duration.add_metric([pool, addr], buckets, st.dsum)
            for kind in ERROR_KINDS:
                errors.add_metric([pool, addr, kind], st.errors[kind])
            retries.add_metric([pool, addr], st.retries)
        in_flight = GaugeMetricFamily(
            "turnout_in_flight_requests",
            "Requests (and tunnels) currently on an instance.",
            labels=["pool", "instance"],
        )
        routable = GaugeMetricFamily(
            "turnout_instance_routable",
            "1 when the instance can take new requests.",
            labels=["pool", "instance"],
        )
        for inst in router.instances.values():
            in_flight.add_metric([inst.pool, inst.address], inst.in_flight)
            routable.add_metric([inst.pool, inst.address], 1 if inst.routable else 0)
        yield requests
        yield duration
        yield errors
        yield retries
        yield in_flight
        yield routable
        yield GaugeMetricFamily(
            "turnout_route_generation", "Generation of the live route table.", router.generation
        )
        yield GaugeMetricFamily(
            "turnout_client_connections", "Open client connections.", len(router.clients)
        )
        rejected = CounterMetricFamily(
            "turnout_rejected_requests",
            "Requests the router refused itself, by status or reason.",
            labels=["reason"],
        )
        for reason, n in sorted(router.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield CounterMetricFamily(
            "turnout_client_aborts",
            "Requests abandoned because the client went away first.",
            router.client_aborts,
        )


def render(router: Router) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(router))
    return generate_latest(registry)
