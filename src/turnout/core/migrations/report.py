"""Render findings for people (text), programs (JSON), GitHub Actions and SARIF."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from turnout import __version__
from turnout.core.migrations.model import Finding
from turnout.core.migrations.rules import RULES

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "github", "sarif")
DOCS = "docs/migrations.md"


def render(findings: Sequence[Finding], fmt: str, checked: int) -> str:
    """``findings`` as ``fmt`` (one of FORMATS); ``checked`` is the number of migrations."""
    if fmt == "text":
        return _text(findings, checked)
    if fmt == "json":
        return _json(findings, checked)
    if fmt == "github":
        return _github(findings)
    if fmt == "sarif":
        return _sarif(findings)
    raise ValueError(f"unknown format {fmt!r}")


def _text(findings: Sequence[Finding], checked: int) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.location}: {f.rule}: {f.message}")
        lines.append(f"  help: {f.help}")
    noun = "migration" if checked == 1 else "migrations"
    if findings:
        lines.append(f"{len(findings)} finding{'s' * (len(findings) != 1)} in {checked} {noun}")
    else:
        lines.append(f"no findings in {checked} {noun}")
    return "\n".join(lines)


def _json(findings: Sequence[Finding], checked: int) -> str:
    doc = {
        "migrations": checked,
        "findings": [
            {
                "path": f.location.path,
                "line": f.location.line,
                "column": f.location.column,
                "rule": f.rule,
                "message": f.message,
                "help": f.help,
                "statement": f.statement,
            }
            for f in findings
        ],
    }
    return json.dumps(doc, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: one ``::error`` annotation per finding."""
    lines = []
    for f in findings:
        props = ",".join(
            [
                f"file={_escape_property(f.location.path)}",
                f"line={f.location.line}",
                f"col={f.location.column}",
                f"title={_escape_property('turnout ' + f.rule)}",
            ]
        )
        text = f"{f.message}\nhelp: {f.help}"
        lines.append(f"::error {props}::{_escape_data(text)}")
    return "\n".join(lines)


def _sarif(findings: Sequence[Finding]) -> str:
    index = {rule.id: i for i, rule in enumerate(RULES)}
    rules: list[dict[str, Any]] = [
        {
            "id": rule.id,
            "name": rule.id,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.why},
            "help": {"text": rule.fix, "markdown": _rule_markdown(rule.fix, rule.safe)},
            "helpUri": f"{DOCS}#{rule.id}",
            "defaultConfiguration": {"level": "error"},
            "properties": {"category": rule.category},
        }
        for rule in RULES
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": "error",
            "message": {"text": f"{f.message}\nhelp: {f.help}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.path},
                        "region": {
                            "startLine": max(f.location.line, 1),
                            "startColumn": max(f.location.column, 1),
                        },
                    }
                }
            ],
        }
        for f in findings
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "turnout",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _rule_markdown(fix: str, safe: str) -> str:
    return f"{fix}\n\n```sql\n{safe}\n```"
