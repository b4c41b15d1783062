"""Output formats: text for people, JSON, GitHub annotations, SARIF."""

from __future__ import annotations

import json

from turnout.core.migrations.model import Finding, Location
from turnout.core.migrations.report import render
from turnout.core.migrations.rules import RULES

FINDINGS = [
    Finding(
        Location("db/0002.sql", 3, 7),
        "rename-column",
        "renaming a, b: breaks",
        "Expand first.",
        "ALTER",
    ),
    Finding(
        Location("db/0003.sql", 1, 1), "drop-table", "100% gone\nreally", "Contract later.", "DROP"
    ),
]


def test_text_has_location_rule_message_and_help() -> None:
    out = render(FINDINGS, "text", 3).splitlines()
    assert out[0] == "db/0002.sql:3:7: rename-column: renaming a, b: breaks"
    assert out[1] == "  help: Expand first."
    assert out[-1] == "2 findings in 3 migrations"
    assert render([], "text", 1) == "no findings in 1 migration"


def test_json_fields() -> None:
    doc = json.loads(render(FINDINGS, "json", 3))
    assert doc["migrations"] == 3
    assert doc["findings"][0] == {
        "path": "db/0002.sql",
        "line": 3,
        "column": 7,
        "rule": "rename-column",
        "message": "renaming a, b: breaks",
        "help": "Expand first.",
        "statement": "ALTER",
    }


def test_github_annotations_escape_data_and_properties() -> None:
    lines = render(FINDINGS, "github", 3).splitlines()
    assert lines[0] == (
        "::error file=db/0002.sql,line=3,col=7,title=turnout rename-column::"
        "renaming a, b: breaks%0Ahelp: Expand first."
    )
    assert lines[1].endswith("::100%25 gone%0Areally%0Ahelp: Contract later.")


def test_sarif_results_reference_declared_rules() -> None:
    doc = json.loads(render(FINDINGS, "sarif", 3))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    first = run["results"][0]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "db/0002.sql"
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 7}
