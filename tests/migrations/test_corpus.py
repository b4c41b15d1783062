"""Acceptance 1: turnout agrees with the label of every case in the SQL corpus."""

from __future__ import annotations

import pytest
from corpus import load_cases
from lintcase import lint_case

from turnout.core.migrations.rules import RULES

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_reports_exactly_the_expected_rules(case) -> None:
    result = lint_case(case)
    reported = {f.rule for f in result.findings}
    assert reported == case.expect, "\n".join(str(f) for f in result.findings)


def test_corpus_is_large_and_has_unsafe_and_safe_cases_for_every_rule() -> None:
    assert len(CASES) >= 150
    for rule in RULES:
        labels = {c.label for c in CASES if c.rule == rule.id}
        assert labels == {"safe", "unsafe"}, f"{rule.id} needs unsafe and safe cases"
