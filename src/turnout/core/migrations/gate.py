"""The contract gate: may this release's migrations run while these releases run?

A contract migration removes or tightens the old shape of the schema. It is safe
only once every running instance belongs to a release built with the matching
expand migration (the one that introduced the new shape). Releases whose
migrations are unknown count as predating everything.

Pure: the deploy engine passes in the running releases (from its release store)
and acts on the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from turnout.core.migrations.phases import MigrationPhase, Phase

__all__ = [
    "Blocker",
    "GateDecision",
    "Instance",
    "RunningRelease",
    "decide",
    "decide_rollback",
    "matching_expand",
]


@dataclass(frozen=True)
class Instance:
    id: str
    started_at: datetime


@dataclass(frozen=True)
class RunningRelease:
    name: str
    migrations: frozenset[str] | None  # migration ids the release was built with; None: unknown
    instances: tuple[Instance, ...]


@dataclass(frozen=True)
class Blocker:
    release: str
    instance: str
    started_at: datetime
    contract: str  # the contract migration it blocks
    expand: str  # the migration the release lacks


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str  # allowed | mixed-phases | old-release-running | unknown-expand | contract-applied
    message: str
    blockers: tuple[Blocker, ...] = ()


def matching_expand(contract: MigrationPhase, history: Sequence[MigrationPhase]) -> str | None:
    """The migration ``contract`` completes: declared, else the latest earlier expand that
    touched one of its tables, else the migration right before it."""
    if contract.expand is not None:
        return contract.expand
    ids = [m.id for m in history]
    earlier = history[: ids.index(contract.id)] if contract.id in ids else history
    for m in reversed(earlier):
        if m.phase is Phase.EXPAND and m.tables & contract.tables:
            return m.id
    return earlier[-1].id if earlier else None


def decide(
    pending: Sequence[MigrationPhase],
    history: Sequence[MigrationPhase],
    running: Sequence[RunningRelease],
) -> GateDecision:
    """Whether ``pending`` (in order) may be applied while ``running`` releases serve traffic.

    ``history`` is every migration in order, applied and pending. With nothing running
    (a first deploy, or after ``turnout down``) no old code can meet the new schema, so
    mixing expand and contract is allowed then; a bad ``expand=`` directive never is.
    """
    anything_running = any(r.instances for r in running)
    mixed = _mixed(pending) if anything_running else None
    if mixed:
        return GateDecision(False, "mixed-phases", mixed)
    known = {m.id for m in history}
    blockers: list[Blocker] = []
    for contract in (m for m in pending if m.phase is Phase.CONTRACT):
        expand = matching_expand(contract, history)
        if expand is None:
            continue
        if expand not in known:
            return GateDecision(
                False,
                "unknown-expand",
                f"contract migration {contract.id} names expand={expand}, which is not a known "
                "migration; fix the directive's migration id",
            )
        blockers.extend(_blockers(contract.id, expand, running))
    if blockers:
        return GateDecision(False, "old-release-running", _message(blockers), tuple(blockers))
    if not anything_running:
        return GateDecision(True, "allowed", "no release is running, so none needs the old shape")
    return GateDecision(True, "allowed", "no running release predates a pending contract migration")


def decide_rollback(
    target: str, target_migrations: frozenset[str], live: Sequence[MigrationPhase]
) -> GateDecision:
    """May ``target`` (built with ``target_migrations``) replace the live release, whose
    migrations (all applied) are ``live``? Not when it predates the expand of a contract
    the live release carries: that contract removed the shape the target's code uses."""
    for contract in (m for m in live if m.phase is Phase.CONTRACT):
        if contract.id in target_migrations:
            continue
        expand = matching_expand(contract, live)
        if expand is not None and expand not in target_migrations:
            return GateDecision(
                False,
                "contract-applied",
                f"{target} predates {expand}, and the live release carries contract migration "
                f"{contract.id}, which removed what {target}'s code uses; roll back to a "
                f"release that includes {expand}, or deploy a fixed release instead",
            )
    return GateDecision(True, "allowed", f"{target} includes every applied contract's expand")


def _mixed(pending: Sequence[MigrationPhase]) -> str | None:
    for m in pending:
        if m.mixed:
            return (
                f"migration {m.id} mixes expand and contract statements; split it into an expand "
                "migration and a contract migration shipped in a later release"
            )
    expands = [m.id for m in pending if m.phase is Phase.EXPAND]
    contracts = [m.id for m in pending if m.phase is Phase.CONTRACT]
    if expands and contracts:
        return (
            f"this release's migrations mix expand ({', '.join(expands)}) and contract "
            f"({', '.join(contracts)}); ship the contract migrations in a later release"
        )
    return None


def _blockers(contract: str, expand: str, running: Sequence[RunningRelease]) -> list[Blocker]:
    found = []
    for release in running:
        if release.migrations is not None and expand in release.migrations:
            continue
        for inst in release.instances:
            found.append(Blocker(release.name, inst.id, inst.started_at, contract, expand))
    return found


def _message(blockers: Sequence[Blocker]) -> str:
    first = blockers[0]
    releases: dict[str, list[Blocker]] = {}
    for b in blockers:
        releases.setdefault(b.release, []).append(b)
    parts = []
    for name, bs in releases.items():
        oldest = min(b.started_at for b in bs).isoformat(timespec="seconds")
        parts.append(f"{name} ({len(bs)} instance{'s' * (len(bs) != 1)}, oldest started {oldest})")
    return (
        f"contract migration {first.contract} needs every running release to include "
        f"{first.expand}, but {', '.join(parts)} predate{'s' * (len(releases) == 1)} it; "
        "finish replacing those instances, then deploy again"
    )
