"""The OpenFeature provider through the standard ``openfeature.api``."""

from __future__ import annotations

import pytest

pytest.importorskip("openfeature", reason="the flags extra (openfeature-sdk) is not installed")

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.flag_evaluation import ErrorCode, Reason

from turnout.flags import Flags
from turnout.flags.evaluate import build
from turnout.flags.model import validate_document
from turnout.flags.openfeature import TurnoutProvider

DOC = {
    "flags": {
        "checkout": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
                     "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", None]}},
        "title": {"state": "ENABLED", "variants": {"a": "Hello"}, "defaultVariant": "a",
                  "metadata": {"owner": "web"}},
        "limit": {"state": "ENABLED", "variants": {"low": 10, "high": 100}, "defaultVariant": "low"},
        "ratio": {"state": "ENABLED", "variants": {"half": 0.5}, "defaultVariant": "half"},
        "conf": {"state": "ENABLED", "variants": {"x": {"k": 1}}, "defaultVariant": "x"},
    }
}  # fmt: skip


@pytest.fixture
def client():
    flags = Flags.from_dict(DOC)
    provider = TurnoutProvider(flags)
    api.set_provider(provider, "turnout-test")
    yield api.get_client("turnout-test"), flags, provider
    api.clear_providers()


def test_values_and_details(client) -> None:
    c, _, _ = client
    ctx = EvaluationContext("user-1", {"plan": "pro"})
    details = c.get_boolean_details("checkout", False, ctx)
    assert (details.value, details.variant, details.reason) == (True, "on", Reason.TARGETING_MATCH)
    assert c.get_boolean_value("checkout", True, EvaluationContext("u", {"plan": "free"})) is False
    title = c.get_string_details("title", "x")
    assert (title.value, title.reason, title.flag_metadata) == (
        "Hello",
        Reason.STATIC,
        {"owner": "web"},
    )
    assert c.get_integer_value("limit", 1) == 10
    assert c.get_float_value("ratio", 0.0) == 0.5
    assert c.get_object_value("conf", {}) == {"k": 1}


def test_errors_come_back_as_openfeature_errors(client) -> None:
    c, _, _ = client
    missing = c.get_boolean_details("nope", True)
    assert (missing.value, missing.reason, missing.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )
    mismatch = c.get_integer_details("title", 3)
    assert (mismatch.value, mismatch.error_code) == (3, ErrorCode.TYPE_MISMATCH)


def test_new_flags_emit_configuration_changed(client) -> None:
    c, flags, _ = client
    seen: list[EventDetails] = []
    c.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)
    changed = {"flags": {**DOC["flags"], "title": {**DOC["flags"]["title"], "state": "DISABLED"}}}
    flags.install(build(validate_document(changed), 2))
    assert [e.flags_changed for e in seen] == [["title"]]
    assert c.get_string_details("title", "x").reason == Reason.DISABLED
