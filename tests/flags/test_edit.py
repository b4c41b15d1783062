"""Rollout edits: which flags they apply to, and stickiness when the percentage moves."""

from __future__ import annotations

import pytest

from turnout.flags import DefinitionError, Flags
from turnout.flags.edit import describe_split, diff, format_change, rollout
from turnout.flags.model import validate_flag

PLAIN = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
RULE = {**PLAIN, "targeting": {"if": [{"in": [{"var": "country"}, ["US"]]},
                                      {"fractional": [["on", 10], ["off", 90]]}, "off"]}}  # fmt: skip


def _users(flag: dict, n: int = 5000) -> set[str]:
    flags = Flags.from_dict({"flags": {"f": flag}})
    return {f"u{i}" for i in range(n)
            if flags.evaluate("f", False, {"targetingKey": f"u{i}", "country": "US"}).value}  # fmt: skip


def test_raising_the_percentage_keeps_everyone_who_had_it() -> None:
    flag = validate_flag("f", RULE, "t")
    at10 = _users(RULE)
    at20 = _users(rollout(flag, 20))
    at12_5 = _users(rollout(flag, 12.5))
    assert at10 < at12_5 < at20  # strictly growing, every earlier user kept
    assert 0.08 < len(at10) / 5000 < 0.12 and 0.17 < len(at20) / 5000 < 0.23
    assert rollout(flag, 12.5)["targeting"]["if"][1] == {
        "fractional": [["on", 12500], ["off", 87500]]
    }
    assert _users(rollout(flag, 0)) == set() and len(_users(rollout(flag, 100))) == 5000


def test_rollout_on_a_flag_without_targeting_creates_the_split() -> None:
    out = rollout(validate_flag("f", PLAIN, "t"), 25)
    assert out["targeting"] == {"fractional": [["on", 25], ["off", 75]]}
    assert describe_split(validate_flag("f", out, "t")) == "on 25% / off 75%"


@pytest.mark.parametrize(
    ("flag", "percent", "variant", "message"),
    [
        ({**PLAIN, "variants": {"a": "x", "b": "y"}, "defaultVariant": "a"}, 5, None,
         "flag 'f': is a string flag; name the variant that gets the percentage with --variant (a or b)"),
        ({**PLAIN, "targeting": {"if": [{"fractional": [["on", 1], ["off", 1]]},
                                        {"fractional": [["on", 1], ["off", 1]]}, "off"]}}, 5, None,
         "flag 'f': rollout edits a targeting rule with exactly one fractional split; this one has 2 "
         "(edit it with 'turnout flags set')"),
        ({**PLAIN, "targeting": {"var": "x"}}, 5, None,
         "flag 'f': rollout edits a targeting rule with exactly one fractional split; this one has 0 "
         "(edit it with 'turnout flags set')"),
        (PLAIN, 101, None, "flag 'f': rollout percent 101 is not between 0 and 100"),
        (PLAIN, 5, "maybe", "flag 'f': no variant 'maybe'; variants: on, off"),
    ],
)  # fmt: skip
def test_rollout_refuses_what_it_cannot_edit(
    flag: dict, percent: float, variant: str | None, message: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        rollout(validate_flag("f", flag, "t"), percent, variant)
    assert str(info.value) == message


def test_string_flag_rollout_with_variant() -> None:
    flag = {**PLAIN, "variants": {"a": "x", "b": "y"}, "defaultVariant": "a"}
    assert rollout(validate_flag("f", flag, "t"), 30, "b")["targeting"] == {
        "fractional": [["b", 30], ["a", 70]]
    }


def test_diff_lines() -> None:
    changes = diff(
        {"state": "ENABLED", "metadata": {"o": 1}}, {"state": "DISABLED", "targeting": {}}
    )
    assert [format_change(c) for c in changes] == [
        '~ state: "ENABLED" -> "DISABLED"',
        '- metadata: {"o": 1}',
        "+ targeting: {}",
    ]
