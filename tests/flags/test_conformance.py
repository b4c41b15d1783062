"""flagd's published evaluation cases (flagd-testbed), checked in as data: every case must
give the value (and the reason, error code and metadata where the case states them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from turnout.flags import DefinitionError, Flags

DATA = json.loads((Path(__file__).parent / "data" / "flagd_testbed.json").read_text())
FLAGS = Flags.from_dict(DATA["document"], "testbed.json")


def _id(case: dict[str, Any]) -> str:
    return f"{case['feature']}:{case['flag']}:{json.dumps(case.get('context'))}:{case['default']!r}"


@pytest.mark.parametrize("case", DATA["cases"], ids=_id)
def test_testbed_case(case: dict[str, Any]) -> None:
    result = FLAGS.evaluate(case["flag"], case["default"], case.get("context"))
    assert result.value == case["value"]
    assert type(result.value) is type(case["value"])  # 10.0 stays a float, 2**31-1 an int
    if "reason" in case:
        assert result.reason == case["reason"]
    if "error_code" in case:
        assert result.error_code == case["error_code"]
    if "metadata" in case:
        assert dict(result.flag_metadata) == case["metadata"]


def test_every_feature_of_the_issue_is_covered() -> None:
    features = {c["feature"] for c in DATA["cases"]}
    assert {"fractional", "targeting", "semver", "string", "evaluator-refs"} <= features
    assert sum(c["feature"] == "fractional" for c in DATA["cases"]) >= 30


@pytest.mark.parametrize("case", DATA["rejected"], ids=lambda c: c["about"][:40])
def test_testbed_definitions_turnout_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError) as info:
        Flags.from_dict(case["document"], "testbed.json")
    assert str(info.value) == case["error"]
