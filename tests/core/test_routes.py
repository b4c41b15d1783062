"""Route-table validation and selection math."""

from __future__ import annotations

import pytest

from turnout.core.routes import (
    STICKY_BUCKETS,
    bucket_point,
    cumulative,
    parse_address,
    parse_route_table,
    pick_index,
    sticky_bucket,
)
from turnout.errors import UserError


def table(**kw):
    base = {"pools": {"v1": {"instances": ["127.0.0.1:9001"]}}, "weights": {"v1": 100}}
    base.update(kw)
    return base


def test_a_valid_table_round_trips_with_defaults_filled():
    t = parse_route_table(
        table(pools={"v1": {"instances": ["127.0.0.1:9001"], "health": {"interval": "250ms"}}})
    ).table()
    out = t.to_json()
    assert out["pools"]["v1"]["health"]["interval"] == "250ms"
    assert out["pools"]["v1"]["health"]["rise"] == 2
    assert parse_route_table(out).table() == t


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "route table: not valid JSON"),
        (b"[]", "route table: must be a JSON object"),
        ({}, "route table: pools: required key is missing"),
        (
            table(pools={"v1": {"instances": ["nope"]}}),
            "pools.v1.instances[0]: 'nope' is not HOST:PORT",
        ),
        (table(pools={"v1": {"instances": ["h:70000"]}}), "port must be 1-65535"),
        (table(weights={"v2": 1}), "weights name pool 'v2', which is not in 'pools'"),
        (table(weights={"v1": -1}), "weight of 'v1' must be between 0 and 1000000"),
        (table(pools={"a b": {}}), "pool name 'a b'"),
        (
            table(pools={"v1": {"instances": ["h:1"]}, "v2": {"instances": ["h:1"]}}),
            "instance 'h:1' is in pools 'v1' and 'v2'",
        ),
        (table(pools={"v1": {"instances": ["h:1", "h:1"]}}), "'h:1' is listed twice"),
        (
            table(rules=[{"pool": "v1"}]),
            "rules[0]: a rule needs exactly one of 'header' or 'cookie'",
        ),
        (table(rules=[{"header": "x", "pool": "zz"}]), "rules[0] pins to pool 'zz'"),
        (
            table(pools={"v1": {"health": {"interval": "3q"}}}),
            "pools.v1.health.interval: '3q' is not a duration",
        ),
        (table(pools={"v1": {"health": {"expect": "99"}}}), "pools.v1.health.expect"),
        (table(pools={"v1": {"health": {"path": "healthz"}}}), "must be a path starting with '/'"),
        (table(pools={"v1": {"bogus": 1}}), "pools.v1.bogus: unknown key"),
        (table(sticky={"cookie": "a b"}), "sticky.cookie"),
    ],
)
def test_invalid_tables_name_the_field_and_what_is_valid(raw, message):
    with pytest.raises(UserError) as info:
        parse_route_table(raw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_expected_generation_is_not_part_of_the_table():
    update = parse_route_table(table(expected_generation=3))
    assert update.expected_generation == 3
    assert "expected_generation" not in update.table().to_json()


def test_parse_address_forms():
    assert parse_address("127.0.0.1:80") == ("127.0.0.1", 80)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    assert parse_address("app.internal:9000") == ("app.internal", 9000)
    for bad in ("127.0.0.1", ":80", "h:x", "h:0"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_weighted_pick_covers_ranges_in_order():
    cum = cumulative([90, 10])
    assert cum == [90, 100]
    assert pick_index(cum, 0) == 0
    assert pick_index(cum, 89.99) == 0
    assert pick_index(cum, 90) == 1
    assert pick_index(cum, 99.99) == 1


def test_sticky_buckets_are_stable_and_uniform():
    ids = [f"client-{i}" for i in range(20_000)]
    buckets = [sticky_bucket(i, "") for i in ids]
    assert buckets == [sticky_bucket(i, "") for i in ids]
    assert all(0 <= b < STICKY_BUCKETS for b in buckets)
    low = sum(1 for b in buckets if b < STICKY_BUCKETS // 10)
    assert 1800 < low < 2200  # ~10%
    assert [sticky_bucket(i, "salt") for i in ids[:50]] != buckets[:50]


def test_growing_a_canary_only_moves_clients_onto_it():
    """From 10% to 50%, clients on the canary stay; 40% more join; nobody moves back."""
    ids = [f"c{i}" for i in range(10_000)]

    def assign(canary: int) -> list[int]:
        cum = cumulative([canary, 100 - canary])  # canary listed first
        return [pick_index(cum, bucket_point(sticky_bucket(i, ""), cum[-1])) for i in ids]

    before, after = assign(10), assign(50)
    assert all(a == 0 for b, a in zip(before, after, strict=True) if b == 0)
    moved = sum(1 for b, a in zip(before, after, strict=True) if b != a)
    assert 3600 < moved < 4400
