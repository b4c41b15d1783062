"""``turnout:`` comments inside migrations.

- ``-- turnout: allow <rule>[,<rule>...] because <reason>`` silences those rules on
  the statement the comment is on (or ends on), else on the next statement. The
  reason is mandatory: a suppression nobody can explain is a finding hidden.
- ``-- turnout: phase=expand|migrate|contract [expand=<migration>]`` states the
  migration's phase instead of letting turnout infer it; ``expand=`` names the
  expand migration a contract completes.

In Alembic revision files the same directives are written as ``#`` comments.
"""

from __future__ import annotations

import difflib
import io
import re
import tokenize
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from turnout.errors import UserError

__all__ = ["Directives", "PhaseDirective", "Suppression", "parse_directives", "python_comments"]

PHASES = ("expand", "migrate", "contract")
_MARKER = re.compile(r"^(?:--|#|/\*)\s*turnout:\s*(?P<body>.*?)\s*(?:\*/)?\s*$", re.DOTALL)
_ALLOW = re.compile(r"^allow\s+(?P<rules>[\w\-,\s]+?)(?:\s+because\s+(?P<reason>.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Suppression:
    rules: tuple[str, ...]
    reason: str
    line: int


@dataclass(frozen=True)
class PhaseDirective:
    phase: str
    expand: str | None
    line: int


@dataclass(frozen=True)
class Directives:
    suppressions: tuple[Suppression, ...] = ()
    phase: PhaseDirective | None = None


def parse_directives(
    comments: Iterable[tuple[int, str]], path: str, known_rules: Collection[str]
) -> Directives:
    """Directives from ``(line, comment text)`` pairs; bad ones raise ``UserError``."""
    suppressions: list[Suppression] = []
    phase: PhaseDirective | None = None
    for line, text in comments:
        match = _MARKER.match(text.strip())
        if not match:
            continue
        body = match.group("body")
        where = f"{path}:{line}"
        if body.startswith("allow"):
            suppressions.append(_suppression(body, where, line, known_rules))
        elif body.startswith("phase"):
            if phase is not None:
                raise UserError(
                    f"{where}: a second phase directive (the first is on line {phase.line})"
                )
            phase = _phase(body, where, line)
        else:
            raise UserError(
                f"{where}: unknown turnout directive {body.split()[0]!r}; "
                "use 'allow <rule> because <reason>' or 'phase=expand|migrate|contract'"
            )
    return Directives(tuple(suppressions), phase)


def _suppression(body: str, where: str, line: int, known: Collection[str]) -> Suppression:
    match = _ALLOW.match(body)
    if not match:
        raise UserError(
            f"{where}: write the suppression as 'turnout: allow <rule> because <reason>'"
        )
    rules = tuple(r for r in re.split(r"[\s,]+", match.group("rules").strip()) if r)
    reason = (match.group("reason") or "").strip()
    if not reason:
        raise UserError(
            f"{where}: the suppression of {', '.join(rules)} needs a reason: "
            f"'turnout: allow {','.join(rules)} because <why this is safe here>'"
        )
    for rule in rules:
        if rule not in known:
            close = difflib.get_close_matches(rule, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; see 'turnout migrate rules'"
            raise UserError(f"{where}: unknown rule {rule!r} in suppression{hint}")
    return Suppression(rules, reason, line)


def _phase(body: str, where: str, line: int) -> PhaseDirective:
    fields = dict(_key_value(part, where) for part in body.split())
    phase = fields.pop("phase", "")
    if phase not in PHASES:
        raise UserError(f"{where}: phase must be one of {', '.join(PHASES)}, not {phase!r}")
    expand = fields.pop("expand", None)
    if fields:
        raise UserError(
            f"{where}: unknown key {next(iter(fields))!r}; valid keys are phase, expand"
        )
    if expand is not None and phase != "contract":
        raise UserError(f"{where}: expand=<migration> only applies to phase=contract")
    return PhaseDirective(phase, expand, line)


def _key_value(part: str, where: str) -> tuple[str, str]:
    key, sep, value = part.partition("=")
    if not sep or not value:
        raise UserError(f"{where}: expected key=value in the phase directive, got {part!r}")
    return key, value


def python_comments(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every ``#`` comment in Python source."""
    found: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.append((tok.start[0], tok.string))
    except (tokenize.TokenError, SyntaxError):
        pass  # Alembic imports the file anyway and reports real syntax errors
    return found
