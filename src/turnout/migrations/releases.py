"""What the contract gate needs from the control plane, and an in-memory version of it.

The deploy engine implements :class:`ReleaseStore` over its release store; until then
(and in tests) :class:`MemoryReleaseStore` stands in. The decision itself is pure:
:func:`turnout.core.migrations.gate.decide`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from turnout.core.migrations.gate import GateDecision, Instance, RunningRelease, decide
from turnout.core.migrations.phases import MigrationPhase
from turnout.errors import ConflictError, UserError

__all__ = ["MemoryReleaseStore", "ReleaseStore", "check_release", "enforce_gate"]


class ReleaseStore(Protocol):
    """The one question the gate asks the control plane."""

    def running_releases(self) -> Sequence[RunningRelease]:
        """Every release with at least one running instance: its name, the ids of the
        migrations it was built with (``None`` when unknown: it counts as predating every
        migration), and each instance's id and start time."""
        ...


class MemoryReleaseStore:
    """A :class:`ReleaseStore` in memory: releases, and instances started and stopped."""

    def __init__(self) -> None:
        self._migrations: dict[str, frozenset[str] | None] = {}
        self._instances: dict[str, tuple[str, datetime]] = {}  # instance → (release, started)

    def add_release(self, name: str, migrations: Iterable[str] | None) -> None:
        self._migrations[name] = None if migrations is None else frozenset(migrations)

    def start_instance(self, release: str, instance: str, started_at: datetime) -> None:
        if release not in self._migrations:
            raise UserError(f"unknown release {release!r}; add_release() it first")
        self._instances[instance] = (release, started_at)

    def stop_instance(self, instance: str) -> None:
        self._instances.pop(instance, None)

    def running_releases(self) -> list[RunningRelease]:
        by_release: dict[str, list[Instance]] = {}
        for instance, (release, started) in sorted(self._instances.items()):
            by_release.setdefault(release, []).append(Instance(instance, started))
        return [
            RunningRelease(name, self._migrations[name], tuple(instances))
            for name, instances in by_release.items()
        ]


def check_release(
    store: ReleaseStore, history: Sequence[MigrationPhase], applied: Collection[str]
) -> GateDecision:
    """May the migrations of ``history`` not yet ``applied`` run now?"""
    pending = [m for m in history if m.id not in applied]
    return decide(pending, history, store.running_releases())


def enforce_gate(
    store: ReleaseStore, history: Sequence[MigrationPhase], applied: Collection[str]
) -> GateDecision:
    """:func:`check_release`, raising ``ConflictError`` when the gate refuses."""
    decision = check_release(store, history, applied)
    if not decision.allowed:
        raise ConflictError(f"migration gate ({decision.reason}): {decision.message}")
    return decision
