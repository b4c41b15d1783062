"""Every rule is documented, and its own examples tell the truth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import NO_TIMEOUTS, lint_sql, rules_of

from turnout.core.migrations.rules import RULES
from turnout.core.migrations.settings import LintSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "migrations.md"
EXAMPLE_RULES = [r for r in RULES if r.id != "unused-suppression"]


def _settings(rule_id: str) -> LintSettings:
    return LintSettings() if rule_id.endswith("-timeout") else NO_TIMEOUTS


def test_rule_ids_are_unique_kebab_case() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", i) for i in ids)


@pytest.mark.parametrize("rule", EXAMPLE_RULES, ids=[r.id for r in EXAMPLE_RULES])
def test_unsafe_example_is_reported_by_its_rule(rule) -> None:
    [result] = lint_sql(rule.unsafe, settings=_settings(rule.id))
    assert rule.id in rules_of(result)


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_safe_example_is_clean(rule) -> None:
    [result] = lint_sql(rule.safe, settings=_settings(rule.id))
    assert rules_of(result) == []


def test_unused_suppression_example() -> None:
    rule = next(r for r in RULES if r.id == "unused-suppression")
    assert rules_of(lint_sql(rule.unsafe)[0]) == ["unused-suppression"]


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_docs_have_a_section_with_both_examples(rule) -> None:
    docs = DOCS.read_text()
    assert f"\n### {rule.id}\n" in docs
    section = docs.split(f"\n### {rule.id}\n", 1)[1].split("\n### ", 1)[0]
    assert rule.unsafe in section
    assert rule.safe in section
