"""The labelled SQL corpus: tests/migrations/corpus/<rule>.sql, many cases per file.

A case starts with ``-- case: <name>`` and may carry, before its SQL:

- ``-- expect: <rule>, <rule>`` (or ``none``): exactly the rules turnout must report;
- ``-- settings: key=value ...``: linter settings for this case (postgres_version,
  assume_in_transaction, lock_timeout_required, statement_timeout_required,
  schema=none to lint without the corpus schema);
- ``-- pg: error <SQLSTATE>`` or ``-- pg: skip <why>``: what real PostgreSQL does
  with the case (default: it runs without error);
- ``-- note: <text>``: why squawk disagrees, printed by bench/migrations.py.

Every case runs against ``schema.sql``. The label is ``unsafe`` when the file's
rule is expected, ``safe`` when nothing is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
SCHEMA = CORPUS / "schema.sql"
_HEADER = re.compile(r"^--\s*(case|expect|settings|pg|note):\s*(.*)$")


@dataclass(frozen=True)
class Case:
    rule: str  # the file's rule
    name: str
    sql: str
    expect: frozenset[str]
    settings: dict[str, str] = field(default_factory=dict)
    pg: str = ""  # "", "error <SQLSTATE>", "skip <why>"
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.name}"

    @property
    def label(self) -> str:
        return "unsafe" if self.rule in self.expect else "safe"


def load_cases(directory: Path = CORPUS) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.sql")):
        if path.name != SCHEMA.name:
            cases.extend(_cases(path))
    return cases


def _cases(path: Path) -> list[Case]:
    rule = path.stem
    blocks: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("-- case:"):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return [_case(rule, block, path) for block in blocks]


def _case(rule: str, lines: list[str], path: Path) -> Case:
    meta: dict[str, str] = {}
    body_start = 0
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        if not match:
            body_start = i
            break
        meta[match.group(1)] = match.group(2).strip()
    else:
        body_start = len(lines)
    if "expect" not in meta:
        raise ValueError(f"{path}: case {meta.get('case')!r} has no '-- expect:' line")
    expect = frozenset(
        r.strip() for r in meta["expect"].split(",") if r.strip() and r.strip() != "none"
    )
    settings = dict(kv.split("=", 1) for kv in meta.get("settings", "").split())
    sql = "\n".join(lines[body_start:]).strip() + "\n"
    return Case(rule, meta["case"], sql, expect, settings, meta.get("pg", ""), meta.get("note", ""))
