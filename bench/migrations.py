"""turnout's migration linter against squawk on the labelled corpus.

    .venv/bin/python bench/migrations.py          # agreement, differences, speed
    .venv/bin/python bench/migrations.py --json   # the same, machine-readable

The corpus is tests/migrations/corpus/<rule>.sql (format in tests/migrations/corpus.py).
Each case is labelled unsafe or safe for the rule of its file. A linter "flags" a case
when it reports that rule (squawk's rule names are mapped to turnout's below). Both
tools get the same per-case PostgreSQL version and transaction setting; turnout also
gets the corpus schema (its [migrations] schema file), which squawk has no way to use.

squawk comes from PyPI (``squawk-cli``, installed with turnout's test extras).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "migrations"))

from corpus import Case, load_cases  # noqa: E402
from lintcase import case_facts, case_settings, lint_case  # noqa: E402

from turnout.core.migrations.sql import parse_script  # noqa: E402

# squawk rule → the turnout rule that covers the same hazard.
SQUAWK_TO_TURNOUT = {
    "adding-field-with-default": "add-column-rewrite",
    "changing-column-type": "change-column-type",
    "adding-not-nullable-field": "set-not-null",
    "constraint-missing-not-valid": "constraint-not-valid",
    "adding-foreign-key-constraint": "constraint-not-valid",
    "require-concurrent-index-creation": "create-index-concurrently",
    "require-concurrent-index-deletion": "drop-index-concurrently",
    "disallowed-unique-constraint": "unique-without-index",
    "adding-serial-primary-key-field": "unique-without-index",
    "ban-concurrent-index-creation-in-transaction": "concurrently-in-transaction",
    "require-lock-timeout": "lock-timeout",
    "require-statement-timeout": "statement-timeout",
    "require-timeout-settings": "lock-timeout",
    "renaming-column": "rename-column",
    "renaming-table": "rename-table",
    "ban-drop-column": "drop-column",
    "ban-drop-table": "drop-table",
    "adding-required-field": "add-required-column",
    "ban-drop-not-null": "drop-not-null",
    "ban-truncate-cascade": "truncate-cascade",
    "ban-drop-database": "drop-database",
    "prefer-bigint-over-int": "integer-primary-key",
    "prefer-bigint-over-smallint": "integer-primary-key",
    "ban-alter-domain-with-add-constraint": "add-domain-constraint",
    "ban-create-domain-with-constraint": "add-domain-constraint",
    "transaction-nesting": "transaction-nesting",
    "ban-uncommitted-transaction": "uncommitted-transaction",
    "unused-ignore": "unused-suppression",
    "ban-drop-view": "drop-table",
}


def squawk_binary() -> str:
    found = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    if not Path(found).exists():
        sys.exit("squawk not found: pip install squawk-cli (it is in turnout's test extras)")
    return found


def _group(case: Case) -> tuple[str | None, bool]:
    return case.settings.get("postgres_version"), case.settings.get(
        "assume_in_transaction"
    ) == "true"


def run_squawk(
    cases: Sequence[Case], workdir: Path, reps: int
) -> tuple[dict[str, list[str]], float]:
    """squawk's rule names per case id, and the best wall time of its runs."""
    paths: dict[str, Path] = {}
    for i, case in enumerate(cases):
        path = workdir / f"{i:04d}.sql"
        path.write_text(case.sql)
        paths[case.id] = path
    groups: dict[tuple[str | None, bool], list[Case]] = defaultdict(list)
    for case in cases:
        groups[_group(case)].append(case)
    found: dict[str, set[str]] = {c.id: set() for c in cases}
    by_path = {str(p): cid for cid, p in paths.items()}
    best = float("inf")
    for _ in range(reps):
        elapsed = 0.0
        for key, members in groups.items():
            start = time.perf_counter()
            stdout = _squawk(key, [paths[c.id] for c in members])
            elapsed += time.perf_counter() - start
            for violation in json.loads(stdout or "[]"):
                found[by_path[violation["file"]]].add(violation["rule_name"])
        best = min(best, elapsed)
    return {cid: sorted(set(rules)) for cid, rules in found.items()}, best


def _squawk(group: tuple[str | None, bool], paths: Sequence[Path]) -> str:
    version, in_tx = group
    args = [squawk_binary(), "--reporter", "json"]
    if version:
        args.append(f"--pg-version={version}.0")
    if in_tx:
        args.append("--assume-in-transaction")
    args.extend(str(p) for p in paths)
    return subprocess.run(args, capture_output=True, text=True, check=False).stdout


def time_turnout(cases: Sequence[Case], reps: int) -> float:
    """Lint every case as its own run; the schema file is parsed once, as in one CLI run."""
    from turnout.core.migrations.lint import lint_migration
    from turnout.core.migrations.model import MigrationSource

    prepared = [(c, case_settings(c), case_facts(c)) for c in cases]
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for case, settings, facts in prepared:
            source = MigrationSource(case.name, f"{case.rule}.sql", case.sql)
            lint_migration(source, settings, copy.deepcopy(facts))
        best = min(best, time.perf_counter() - start)
    return best


def time_big_file(
    cases: Sequence[Case], copies: int, workdir: Path, reps: int
) -> tuple[int, float, float]:
    """One file of the corpus repeated: statements, turnout seconds, squawk seconds."""
    from turnout.core.migrations.facts import SchemaFacts
    from turnout.core.migrations.lint import lint_migration
    from turnout.core.migrations.model import MigrationSource
    from turnout.core.migrations.settings import LintSettings

    one = "\n".join(c.sql for c in cases if not c.settings)
    # directives are per migration; one big file cannot hold the cases' different ones
    one = "\n".join(line for line in one.splitlines() if "turnout:" not in line)
    body = "\n".join([one] * copies)
    statements = len(parse_script(body).statements)
    path = workdir / "big.sql"
    path.write_text(body)
    turnout = squawk = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        lint_migration(MigrationSource("big", str(path), body), LintSettings(), SchemaFacts())
        turnout = min(turnout, time.perf_counter() - start)
        start = time.perf_counter()
        _squawk((None, False), [path])
        squawk = min(squawk, time.perf_counter() - start)
    return statements, turnout, squawk


def compare(reps: int, copies: int) -> dict[str, Any]:
    cases = load_cases()
    statements = sum(len(parse_script(c.sql).statements) for c in cases)
    turnout_rules = {c.id: sorted({f.rule for f in lint_case(c).findings}) for c in cases}
    with tempfile.TemporaryDirectory() as tmp:
        squawk_raw, squawk_seconds = run_squawk(cases, Path(tmp), reps)
        big_statements, big_turnout, big_squawk = time_big_file(cases, copies, Path(tmp), reps)
    turnout_seconds = time_turnout(cases, reps)
    unmapped: Counter[str] = Counter()
    rows = []
    for case in cases:
        raw = squawk_raw[case.id]
        unmapped.update(r for r in raw if r not in SQUAWK_TO_TURNOUT)
        squawk_rules = sorted({SQUAWK_TO_TURNOUT[r] for r in raw if r in SQUAWK_TO_TURNOUT})
        rows.append(
            {
                "case": case.id,
                "label": case.label,
                "turnout_flags": case.rule in turnout_rules[case.id],
                "squawk_flags": case.rule in squawk_rules,
                "turnout": turnout_rules[case.id],
                "squawk": sorted(set(raw)),
                "note": case.note,
            }
        )
    unsafe = sum(r["label"] == "unsafe" for r in rows)
    return {
        "cases": len(cases),
        "unsafe": unsafe,
        "safe": len(cases) - unsafe,
        "statements": statements,
        "turnout_correct": sum(r["turnout_flags"] == (r["label"] == "unsafe") for r in rows),
        "squawk_correct": sum(r["squawk_flags"] == (r["label"] == "unsafe") for r in rows),
        "agree": sum(r["turnout_flags"] == r["squawk_flags"] for r in rows),
        "differences": [r for r in rows if r["turnout_flags"] != r["squawk_flags"]],
        "squawk_only_rules": dict(unmapped.most_common()),
        "speed": {
            "corpus_statements": statements,
            "turnout_seconds": turnout_seconds,
            "squawk_seconds": squawk_seconds,
            "big_file_statements": big_statements,
            "big_turnout_seconds": big_turnout,
            "big_squawk_seconds": big_squawk,
        },
    }


def render(r: Any) -> str:
    n = r["cases"]
    lines = [
        f"corpus: {n} cases ({r['unsafe']} unsafe, {r['safe']} safe), {r['statements']} statements",
        f"agreement with the labels: turnout {r['turnout_correct']}/{n}, "
        f"squawk {r['squawk_correct']}/{n}",
        f"turnout and squawk agree on {r['agree']}/{n} cases; they differ on:",
    ]
    for d in r["differences"]:
        who = "turnout" if d["turnout_flags"] else "squawk"
        lines.append(f"  {d['case']} [{d['label']}]: only {who} reports it")
        lines.append(f"      turnout: {', '.join(d['turnout']) or 'nothing'}")
        lines.append(f"      squawk:  {', '.join(d['squawk']) or 'nothing'}")
        lines.append(f"      why: {d['note'] or '(no explanation recorded in the corpus)'}")
    only = ", ".join(f"{k} ({v})" for k, v in r["squawk_only_rules"].items())
    lines.append(f"squawk rules with no turnout counterpart (not compared): {only}")
    s = r["speed"]
    lines += [
        "speed (best of the repetitions; turnout in process, squawk as a subprocess "
        "with its startup):",
        f"  corpus, {s['corpus_statements']} statements in {n} files: "
        f"turnout {s['corpus_statements'] / s['turnout_seconds']:,.0f} statements/s, "
        f"squawk {s['corpus_statements'] / s['squawk_seconds']:,.0f} statements/s",
        f"  one file of {s['big_file_statements']} statements: "
        f"turnout {s['big_file_statements'] / s['big_turnout_seconds']:,.0f} statements/s, "
        f"squawk {s['big_file_statements'] / s['big_squawk_seconds']:,.0f} statements/s",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--reps", type=int, default=3, help="timing repetitions for turnout")
    parser.add_argument("--copies", type=int, default=20, help="corpus copies in the big file")
    args = parser.parse_args()
    result = compare(args.reps, args.copies)
    print(json.dumps(result, indent=2) if args.json else render(result))


if __name__ == "__main__":
    main()
