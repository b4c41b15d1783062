"""What a rule is: stable id, what it catches, why, the safe alternative, and a check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from turnout.core.migrations.locks import Effect
from turnout.core.migrations.scope import Scope
from turnout.core.migrations.settings import LintSettings
from turnout.core.migrations.sql import Statement
from turnout.core.migrations.state import MigrationState

__all__ = ["Context", "Hit", "Rule"]


@dataclass(frozen=True)
class Context:
    """Everything a rule may look at for one statement (state is as before it runs)."""

    node: Any
    statement: Statement
    following: tuple[Statement, ...]  # the statements after this one in the migration
    line: int  # where the statement starts, in the file findings point at
    effects: list[Effect]
    state: MigrationState
    scope: Scope
    settings: LintSettings
    phase: str | None  # the migration's declared phase, if annotated

    def existing(self) -> list[Effect]:
        """Effects on tables that existed before this migration."""
        return [e for e in self.effects if e.existing]


@dataclass(frozen=True)
class Hit:
    message: str
    location: int | None = None  # character offset in the script; None: the statement's start


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # locking | compatibility | transactions | schema | meta
    summary: str  # what it catches, one line
    why: str  # why it hurts while two versions run or while the table is locked
    fix: str  # the safe alternative, in words
    unsafe: str  # example SQL the rule reports
    safe: str  # the same change done safely
    check: Callable[[Context], Iterable[Hit]]
    at_end: Callable[[MigrationState], Iterable[tuple[int, Hit]]] | None = None
    once_per_migration: bool = False
    default: bool = True

    @property
    def help(self) -> str:
        return self.fix.split("\n\n")[0]
