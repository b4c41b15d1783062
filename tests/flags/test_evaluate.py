"""Evaluation semantics: reasons, error codes, types, JsonLogic and flagd operations."""

from __future__ import annotations

from typing import Any

import mmh3
import pytest

from turnout.flags import Flags
from turnout.flags.ops import EvalAbort, bucket_value, parse_version, sem_ver

ON_OFF = {"on": True, "off": False}


def one(targeting: Any = None, variants: Any = None, default: Any = "off", **more: Any) -> Flags:
    flag: dict[str, Any] = {
        "state": "ENABLED",
        "variants": variants or ON_OFF,
        "defaultVariant": default,
        **more,
    }
    if targeting is not None:
        flag["targeting"] = targeting
    return Flags.from_dict({"flags": {"f": flag}})


def rule(logic: Any, context: dict[str, Any] | None = None) -> Any:
    """What a JsonLogic expression gives, read through a flag whose variants are its results."""
    variants = {"true": "true", "false": "false", "none": "none", "other": "other"}
    flags = one({"if": [{"===": [logic, True]}, "true", {"if": [{"===": [logic, False]}, "false",
                 {"if": [{"===": [logic, None]}, "none", "other"]}]}]}, variants, "other")  # fmt: skip
    return flags.evaluate("f", "x", context).value


@pytest.mark.parametrize(
    ("logic", "context", "expected"),
    [
        ({"==": [1, "1"]}, {}, "true"),
        ({"===": [1, "1"]}, {}, "false"),
        ({"==": [None, 0]}, {}, "false"),
        ({"==": [True, 1]}, {}, "true"),
        ({"!=": [{"var": "a"}, "x"]}, {"a": "y"}, "true"),
        ({"<": [1, {"var": "n"}, 3]}, {"n": 2}, "true"),
        ({"<": ["10", 9]}, {}, "false"),
        ({">=": [{"var": "n"}, 18]}, {"n": "18"}, "true"),
        ({"in": [{"var": "c"}, ["US", "CA"]]}, {"c": "CA"}, "true"),
        ({"in": [{"var": "c"}, ["US", "CA"]]}, {"c": 1}, "false"),
        ({"in": ["sub", {"var": "s"}]}, {"s": "a substring"}, "true"),
        ({"!": [{"var": "missing"}]}, {}, "true"),
        ({"!!": [[]]}, {}, "false"),
        ({"and": [True, {"var": "x"}]}, {"x": False}, "false"),
        ({"or": [False, {"var": "x"}]}, {"x": True}, "true"),
        ({"var": "user.tier"}, {"user": {"tier": None}}, "none"),
        ({"var": ["missing", True]}, {}, "true"),
        (
            {"some": [{"var": "roles"}, {"==": [{"var": ""}, "admin"]}]},
            {"roles": ["u", "admin"]},
            "true",
        ),
        ({"all": [[], True]}, {}, "false"),
        ({"===": [{"cat": ["a", 1, True, None]}, "a1truenull"]}, {}, "true"),
        ({"===": [{"substr": ["turnout", -3]}, "out"]}, {}, "true"),
        ({"===": [{"+": [1, "2", 3.5]}, 6.5]}, {}, "true"),
        ({"===": [{"%": [7, 3]}, 1]}, {}, "true"),
        ({"===": [{"max": [1, 5, 3]}, 5]}, {}, "true"),
        ({"===": [{"missing": ["a", "b"]}, ["b"]]}, {"a": 1}, "false"),  # arrays are objects: ===
        ({"===": [{"var": "$flagd.flagKey"}, "f"]}, {}, "true"),
        ({">": [{"var": "$flagd.timestamp"}, 1_700_000_000]}, {}, "true"),
        ({"starts_with": [{"var": "e"}, "ad"]}, {"e": "admin@x"}, "true"),
        ({"ends_with": [{"var": "e"}, "@x.com"]}, {"e": "a@x.org"}, "false"),
        ({"sem_ver": [{"var": "v"}, ">=", "1.2.0"]}, {"v": "v1.10.0"}, "true"),
        ({"sem_ver": [{"var": "v"}, "<", "1.0.0"]}, {"v": "1.0.0-rc.1"}, "true"),
    ],
)
def test_jsonlogic(logic: Any, context: dict[str, Any], expected: str) -> None:
    assert rule(logic, context) == expected


def test_semver_precedence() -> None:
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]  # fmt: skip  (semver.org, section 11)
    keys = [parse_version(v) for v in order]
    assert keys == sorted(keys)
    assert sem_ver("1.2.3", "~", "1.2.0") and not sem_ver("1.3.0", "~", "1.2.0")
    assert sem_ver("1.9.0", "^", "1.0.0") and sem_ver("2", "=", "2.0.0")
    for bad in ("1.0.0.0", "01.0.0", "", "x"):
        with pytest.raises(EvalAbort):
            parse_version(bad)


def test_fractional_is_flagd_v2_bucketing() -> None:
    """(murmur3_x86_32(key, seed 0) unsigned * total) >> 32, first bucket whose end exceeds it."""
    assert bucket_value("ejOoVL", 100) == 0  # hash 0
    assert bucket_value("SI7p-", 100) == 49  # hash 2**31 - 1
    assert bucket_value("6LvT0", 100) == 50  # hash 2**31
    assert bucket_value("ceQdGm", 100) == 99  # hash 2**32 - 1
    flags = one({"fractional": [["on", 30], ["off", 70]]})
    for i in range(200):
        expected = (mmh3.hash(f"fuser-{i}", 0, False) * 100) >> 32 < 30
        result = flags.evaluate("f", False, {"targetingKey": f"user-{i}"})
        assert (result.value, result.reason) == (expected, "SPLIT")


def test_split_without_targeting_key_serves_the_default_variant_and_says_why() -> None:
    result = one({"fractional": [["on", 50], ["off", 50]]}).evaluate("f", True, {"country": "US"})
    assert (result.value, result.variant, result.reason, result.error_code) == (
        False, "off", "DEFAULT", "TARGETING_KEY_MISSING")  # fmt: skip


def test_reasons_and_errors() -> None:
    flags = Flags.from_dict({"flags": {
        "static": {"state": "ENABLED", "variants": ON_OFF, "defaultVariant": "on"},
        "off": {"state": "DISABLED", "variants": ON_OFF, "defaultVariant": "on"},
        "rule": {"state": "ENABLED", "variants": ON_OFF, "defaultVariant": "off",
                 "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", None]}},
        "dyn": {"state": "ENABLED", "variants": ON_OFF, "defaultVariant": "off",
                "targeting": {"var": "pick"}},
        "num": {"state": "ENABLED", "variants": {"a": 1, "b": 2.5}, "defaultVariant": "a"},
    }})  # fmt: skip
    assert flags.evaluate("static", False)[:3] == (True, "on", "STATIC")
    assert flags.evaluate("off", False)[:3] == (False, None, "DISABLED")
    assert flags.evaluate("rule", False, {"plan": "pro"})[:3] == (True, "on", "TARGETING_MATCH")
    assert flags.evaluate("rule", True, {"plan": "free"})[:3] == (False, "off", "DEFAULT")
    assert flags.evaluate("nope", 7)[:4] == (7, None, "ERROR", "FLAG_NOT_FOUND")
    assert flags.evaluate("static", "x")[:4] == ("x", None, "ERROR", "TYPE_MISMATCH")
    bad = flags.evaluate("dyn", True, {"pick": "maybe"})
    assert bad[:4] == (True, None, "ERROR", "GENERAL")
    assert (
        bad.error_message == "flag 'dyn': targeting chose 'maybe', which is not a variant (on, off)"
    )
    assert flags.evaluate("dyn", False, {"pick": "on"})[:3] == (True, "on", "TARGETING_MATCH")
    assert (
        flags.evaluate("num", 0.0).value == 1.0 and type(flags.evaluate("num", 0.0).value) is float
    )
    assert flags.evaluate("num", 0, {}).value == 1
    assert flags.evaluate("num", None).value == 1  # no default type: no check
    assert (
        flags.is_enabled("static") and not flags.is_enabled("off") and not flags.is_enabled("nope")
    )


def test_a_rule_that_raises_unexpectedly_is_a_general_error_not_an_exception() -> None:
    flags = one({"if": [{"<": [{"var": "a"}, {"var": "b"}]}, "on", "off"]})
    result = flags.evaluate("f", False, {"a": {"x": 1}, "b": [1, 2]})  # odd types, no crash
    assert result[:3] == (False, "off", "TARGETING_MATCH")  # NaN < NaN is false, as in JS


def test_static_results_are_reused() -> None:
    flags = one()
    assert flags.evaluate("f", False) is flags.evaluate("f", True)
