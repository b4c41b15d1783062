"""Acceptance 4: bad definitions are refused when loaded, with the source, flag and JSON path
named; a connected SDK or the service keeps serving the flags it had."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from turnout.flags import DefinitionError, Flags

OK = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


def _flag(**changes: Any) -> dict[str, Any]:
    return {"flags": {"checkout": {**OK, **changes}}}


CASES: list[tuple[str, Any, str]] = [
    ("unknown operator", _flag(targeting={"if": [{"startswith": [{"var": "email"}, "a"]}, "on"]}),
     "f.json: flags.checkout.targeting.if[0]: unknown operator 'startswith'; did you mean 'starts_with'?"),
    ("unknown operator, nothing close", _flag(targeting={"frobnicate": [1]}),
     "f.json: flags.checkout.targeting: unknown operator 'frobnicate'; see docs/flags.md#operators"),
    ("wrong variant type", _flag(variants={"on": True, "off": 0}),
     "f.json: flags.checkout.variants.off: 0 is a number, but 'on' is a boolean; all variants of a flag are booleans"),
    ("null variant", _flag(variants={"on": True, "off": None}),
     "f.json: flags.checkout.variants.off: null is not a variant value; use a boolean, string, number or object"),
    ("$ref to a missing evaluator", _flag(targeting={"if": [{"$ref": "is_staff"}, "on", "off"]}),
     "f.json: flags.checkout.targeting.if[0].$ref: no evaluator 'is_staff' in $evaluators (defined: none)"),
    ("$ref cycle", {**_flag(targeting={"if": [{"$ref": "a"}, "on", "off"]}),
                    "$evaluators": {"a": {"and": [{"$ref": "b"}]}, "b": {"or": [{"$ref": "a"}]}}},
     "f.json: $evaluators.a.and[0].$ref -> ... "),  # checked below: the cycle is named
    ("default variant not a variant", _flag(defaultVariant="maybe"),
     'f.json: flags.checkout.defaultVariant: "maybe" is not one of the variants (on, off); name one of them, or null'),
    ("bad state", _flag(state="ON"),
     'f.json: flags.checkout.state: "ON" is not valid; use "ENABLED" or "DISABLED"'),
    ("unknown key", _flag(targetting={}),
     "f.json: flags.checkout.targetting: unknown key; valid keys here: state, variants, defaultVariant, targeting, metadata"),
    ("targeting returns a name that is not a variant", _flag(targeting={"if": [{"var": "x"}, "onn", "off"]}),
     "f.json: flags.checkout.targeting.if[1]: 'onn' is not a variant of this flag; variants: on, off"),
    ("split bucket that is not a variant", _flag(targeting={"fractional": [["on", 50], ["of", 50]]}),
     "f.json: flags.checkout.targeting.fractional[1][0]: 'of' is not a variant of this flag; variants: on, off"),
    ("fractional weight not whole", _flag(targeting={"fractional": [["on", 12.5], ["off", 87.5]]}),
     "f.json: flags.checkout.targeting.fractional[0][1]: a weight is a whole number, not 12.5 (weights are relative: use 125 and 875 for 12.5% and 87.5%)"),
    ("two keys in an operation", _flag(targeting={"if": [{"==": [1, 1], "!=": [1, 2]}, "on"]}),
     "f.json: flags.checkout.targeting.if[0]: an operation has exactly one key, the operator; found 2 keys (==, !=)"),
    ("flags missing", {"flag": {}},
     "f.json: flag: unknown key; valid keys here: $schema, flags, $evaluators, metadata"),
    ("metadata value", _flag(metadata={"owner": ["a"]}),
     "f.json: flags.checkout.metadata.owner: metadata values are strings, numbers or booleans, not an array"),
    ("bad key", {"flags": {"a/b": OK}},
     'f.json: flags: "a/b" is not a valid flag key; use 1 to 200 characters without \'/\' or control characters'),
]  # fmt: skip


@pytest.mark.parametrize(("name", "document", "message"), CASES, ids=[c[0] for c in CASES])
def test_rejected_with_flag_and_path(name: str, document: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        Flags.from_dict(document, "f.json")
    if name == "$ref cycle":
        assert str(info.value) == (
            "f.json: $evaluators.b.or[0].$ref: $ref cycle: a -> b -> a "
            "(reached from flags.checkout.targeting.if[0].$ref)"
        )
    else:
        assert str(info.value) == message


def test_cycle_reached_from_a_flag_names_the_flag() -> None:
    doc = {
        **_flag(targeting={"if": [{"$ref": "a"}, "on", "off"]}),
        "$evaluators": {"a": {"!": {"$ref": "a"}}},
    }
    with pytest.raises(DefinitionError) as info:
        Flags.from_dict(doc, "f.json")
    assert str(info.value) == (
        'f.json: $evaluators.a["!"].$ref: $ref cycle: a -> a '
        "(reached from flags.checkout.targeting.if[0].$ref)"
    )


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text('{"flags": {\n  "a": {"state": "ENABLED",}\n}}')
    with pytest.raises(DefinitionError) as info:
        Flags.from_file(path)
    assert (
        str(info.value)
        == f"{path}:2:28: not valid JSON: Expecting property name enclosed in double quotes"
    )


def test_warnings_for_rules_that_always_fall_back() -> None:
    from turnout.flags.evaluate import build
    from turnout.flags.model import validate_document

    doc = _flag(targeting={"if": [{"sem_ver": [{"var": "v"}, "===", "1.0.0"]}, "on", "off"]})
    snapshot = build(validate_document(doc, "f.json"), 0, "f.json")
    assert snapshot.warnings == (
        'f.json: flags.checkout.targeting.if[0].sem_ver[1]: "===" is not a sem_ver comparison '
        "(use =, !=, <, <=, >, >=, ^, ~); the flag always resolves to its default variant",
    )


def test_a_bad_update_from_the_service_keeps_the_live_flags() -> None:
    """The SDK compiles every snapshot before installing it."""
    from turnout.flags.client import SyncClient

    flags = Flags.from_dict(_flag())
    client = SyncClient(flags, "http://127.0.0.1:1", None)
    client.document = _flag()
    bad = _flag(targeting={"nope": []})
    assert client._apply("snapshot", {"version": 5, "document": bad}) is True
    assert flags.version == 0 and flags.evaluate("checkout", True).value is False
    assert json.dumps(flags.snapshot.document.to_json()) == json.dumps(
        Flags.from_dict(_flag()).snapshot.document.to_json()
    )  # type: ignore[union-attr]
