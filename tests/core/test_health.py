"""Rise/fall health transitions."""

from __future__ import annotations

import pytest

from turnout.core.health import Health, HealthState, observe, parse_status_ranges, status_expected


def run(results, rise=2, fall=3, start=None):
    state = start or HealthState()
    seen = []
    for r in results:
        state = observe(state, r, rise, fall)
        seen.append(state.status)
    return seen


def test_new_instance_needs_rise_passes():
    assert run([True, True], rise=2) == [Health.UNKNOWN, Health.HEALTHY]


def test_healthy_needs_fall_consecutive_failures():
    healthy = HealthState(Health.HEALTHY, 2, 0)
    assert run([False, False, True, False, False, False], start=healthy) == [
        Health.HEALTHY, Health.HEALTHY, Health.HEALTHY, Health.HEALTHY, Health.HEALTHY,
        Health.UNHEALTHY,
    ]  # fmt: skip


def test_unhealthy_recovers_after_rise_passes_and_a_failure_resets_the_streak():
    bad = HealthState(Health.UNHEALTHY, 0, 3)
    assert run([True, False, True, True], rise=2, start=bad) == [
        Health.UNHEALTHY, Health.UNHEALTHY, Health.UNHEALTHY, Health.HEALTHY,
    ]  # fmt: skip


def test_unknown_instance_that_fails_becomes_unhealthy_after_fall():
    assert run([False, False, False], fall=3)[-1] is Health.UNHEALTHY


def test_status_ranges():
    ranges = parse_status_ranges("200-299, 301")
    assert status_expected(204, ranges) and status_expected(301, ranges)
    assert not status_expected(302, ranges) and not status_expected(500, ranges)
    for bad in ("abc", "99", "200-100", "600"):
        with pytest.raises(ValueError):
            parse_status_ranges(bad)
