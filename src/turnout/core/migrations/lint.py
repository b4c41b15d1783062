"""Lint migrations: parse, follow the schema and transaction state, run the rules.

Migrations are linted in order, sharing what earlier ones taught about the schema
(column types, validated constraints), so a later migration is judged against the
schema it will really meet.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.core.migrations.directives import Directives, Suppression, parse_directives
from turnout.core.migrations.effects import statement_effects
from turnout.core.migrations.facts import SchemaFacts
from turnout.core.migrations.locks import Effect
from turnout.core.migrations.model import Finding, Location, MigrationSource
from turnout.core.migrations.phases import MigrationPhase, StatementPhase, classify, statement_phase
from turnout.core.migrations.rules import RULES, RULES_BY_ID, Context, Hit, Rule
from turnout.core.migrations.scope import Scope
from turnout.core.migrations.settings import LintSettings
from turnout.core.migrations.sql import Script, SqlSyntaxError, parse_script
from turnout.core.migrations.state import MigrationState
from turnout.errors import UserError

__all__ = ["AnalyzedStatement", "MigrationResult", "lint_migration", "lint_migrations"]


@dataclass(frozen=True)
class AnalyzedStatement:
    index: int
    node: Any
    text: str
    location: Location
    runner: bool  # added by the migration runner (BEGIN, alembic_version), not the migration
    effects: tuple[Effect, ...]
    phase: StatementPhase | None


@dataclass(frozen=True)
class MigrationResult:
    source: MigrationSource
    findings: tuple[Finding, ...]
    statements: tuple[AnalyzedStatement, ...]
    directives: Directives

    def phase(self) -> MigrationPhase:
        """This migration's phase: declared by a directive, else inferred from its statements."""
        d = self.directives.phase
        lines = ((s.location.line, s.phase) for s in self.statements if not s.runner)
        declared = (d.phase, d.expand) if d else None
        return classify(self.source.id, self.source.path, lines, declared)


def lint_migrations(
    sources: Sequence[MigrationSource], settings: LintSettings, facts: SchemaFacts | None = None
) -> list[MigrationResult]:
    """Lint ``sources`` in order; ``facts`` (e.g. from a schema dump) is updated as they go."""
    shared = facts if facts is not None else SchemaFacts()
    return [lint_migration(source, settings, shared) for source in sources]


def lint_migration(
    source: MigrationSource, settings: LintSettings, facts: SchemaFacts
) -> MigrationResult:
    script = _parse(source)
    locator = _Locator(source, script)
    comments = source.comments if source.comments is not None else locator.sql_comments()
    directives = parse_directives(comments, source.path, RULES_BY_ID)
    declared = directives.phase.phase if directives.phase else None
    rules = [r for r in RULES if settings.rule_on(r.id, r.default)]
    state = MigrationState.start(settings.assume_in_transaction)
    hits: list[tuple[int, Rule, Hit]] = []
    once: set[str] = set()
    analyzed: list[AnalyzedStatement] = []
    for i, stmt in enumerate(script.statements):
        location, runner = locator.statement(i)
        scope = Scope(facts, state.created, state.created_indexes, settings.postgres_version)
        effects = statement_effects(stmt.node, scope)
        if not runner:
            rest = script.statements[i + 1 :]
            ctx = Context(
                stmt.node, stmt, rest, location.line, effects, state, scope, settings, declared
            )
            hits.extend(_check(ctx, i, rules, once))
        phase = None if runner else statement_phase(stmt.node, scope)
        analyzed.append(
            AnalyzedStatement(i, stmt.node, stmt.text, location, runner, tuple(effects), phase)
        )
        state.advance(stmt.node, effects, i, location.line)
        facts.learn(stmt.node)
    for rule in rules:
        if rule.at_end is not None:
            hits.extend((i, rule, hit) for i, hit in rule.at_end(state))
    findings = _findings(hits, locator, analyzed, directives, settings, source.path)
    return MigrationResult(source, tuple(sorted(findings)), tuple(analyzed), directives)


def _parse(source: MigrationSource) -> Script:
    try:
        return parse_script(source.sql)
    except SqlSyntaxError as exc:
        if source.origins is None:
            line, col = parse_script_position(source.sql, exc.offset)
            where, what = f"{source.path}:{line}:{col}", "the file must be valid PostgreSQL"
        else:
            origin = next((o for o in source.origins if o.start <= exc.offset < o.end), None)
            line = origin.line if origin and origin.line else 0
            where, what = (
                f"{source.path}:{line}",
                "the SQL this line emits must be valid PostgreSQL",
            )
        raise UserError(f"{where}: {exc.message}; {what}") from exc


def parse_script_position(sql: str, offset: int) -> tuple[int, int]:
    before = sql[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _check(
    ctx: Context, index: int, rules: Iterable[Rule], once: set[str]
) -> Iterable[tuple[int, Rule, Hit]]:
    for rule in rules:
        if rule.id in once:
            continue
        for hit in rule.check(ctx):
            yield index, rule, hit
            if rule.once_per_migration:
                once.add(rule.id)
                break


def _findings(
    hits: list[tuple[int, Rule, Hit]],
    locator: _Locator,
    analyzed: list[AnalyzedStatement],
    directives: Directives,
    settings: LintSettings,
    path: str,
) -> list[Finding]:
    targets = {id(s): locator.targets(s.line) for s in directives.suppressions}
    used: set[int] = set()
    findings: list[Finding] = []
    for index, rule, hit in hits:
        sup = _suppressing(directives.suppressions, targets, index, rule.id)
        if sup is not None:
            used.add(id(sup))
            continue
        where = locator.hit(index, hit.location)
        first_line = analyzed[index].text.splitlines()[0] if analyzed[index].text else ""
        findings.append(Finding(where, rule.id, hit.message, rule.help, first_line))
    if settings.rule_on("unused-suppression", True):
        unused_rule = RULES_BY_ID["unused-suppression"]
        for sup in directives.suppressions:
            if id(sup) not in used:
                message = (
                    f"'allow {','.join(sup.rules)}' matches no finding on the statement "
                    "it applies to"
                )
                findings.append(
                    Finding(Location(path, sup.line, 1), unused_rule.id, message, unused_rule.help)
                )
    return findings


def _suppressing(
    suppressions: Sequence[Suppression], targets: dict[int, set[int]], index: int, rule: str
) -> Suppression | None:
    for sup in suppressions:
        if rule in sup.rules and index in targets[id(sup)]:
            return sup
    return None


class _Locator:
    """Where statements and findings are in the file findings point at."""

    def __init__(self, source: MigrationSource, script: Script) -> None:
        self._source = source
        self._script = script
        origins = sorted(source.origins or (), key=lambda o: o.start)
        self._origins = origins
        self._origin_starts = [o.start for o in origins]

    def sql_comments(self) -> tuple[tuple[int, str], ...]:
        return tuple((self._script.lines.line(c.start), c.text) for c in self._script.comments)

    def statement(self, index: int) -> tuple[Location, bool]:
        stmt = self._script.statements[index]
        if self._source.origins is None:
            line, col = self._script.lines.position(stmt.start)
            return Location(self._source.path, line, col), False
        origin = self._origin(stmt.start)
        if origin is None or origin.line is None:
            return Location(self._source.path, 0, 0), True
        return Location(self._source.path, origin.line, origin.column), False

    def hit(self, index: int, offset: int | None) -> Location:
        if offset is None or self._source.origins is not None:
            return self.statement(index)[0]
        line, col = self._script.lines.position(offset)
        return Location(self._source.path, line, col)

    def lines(self, index: int) -> tuple[int, int] | None:
        location, runner = self.statement(index)
        if runner:
            return None
        if self._source.origins is not None:
            return location.line, location.line
        stmt = self._script.statements[index]
        return self._script.lines.line(stmt.start), self._script.lines.line(stmt.end)

    def targets(self, line: int) -> set[int]:
        """The statements a directive on ``line`` applies to."""
        spans = [(i, self.lines(i)) for i in range(len(self._script.statements))]
        on_line = {i for i, span in spans if span and span[0] <= line <= span[1]}
        if on_line:
            return on_line
        after = [(span[0], i) for i, span in spans if span and span[0] > line]
        if not after:
            return set()
        first = min(after)[0]
        return {i for start, i in after if start == first}

    def _origin(self, offset: int) -> Any:
        pos = bisect.bisect_right(self._origin_starts, offset) - 1
        if pos < 0:
            return None
        origin = self._origins[pos]
        return origin if origin.start <= offset < origin.end else None
