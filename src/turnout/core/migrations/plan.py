"""The three-deploy sequence for pending migrations: expand, migrate, contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from turnout.core.migrations.gate import matching_expand
from turnout.core.migrations.phases import MigrationPhase, Phase

__all__ = ["DeployStep", "plan_deploys", "render_plan"]

_ADVICE = {
    Phase.EXPAND: (
        "additive: safe while the current release runs. Ship code that works with the old "
        "and the new shape (write both)."
    ),
    Phase.MIGRATE: (
        "data changes: run once every instance writes the new shape, in batches "
        "(turnout migrate backfill), never in the deploy's own transaction."
    ),
    Phase.CONTRACT: (
        "removes or tightens the old shape: turnout's gate runs it only when no running "
        "release predates the matching expand."
    ),
}


@dataclass(frozen=True)
class DeployStep:
    number: int
    phase: Phase
    migrations: tuple[MigrationPhase, ...]
    waits_for: tuple[str, ...]  # for contract steps: expand migrations every release must have
    warnings: tuple[str, ...]


def plan_deploys(
    pending: Sequence[MigrationPhase], history: Sequence[MigrationPhase]
) -> list[DeployStep]:
    """Group pending migrations, in order, into deploys of one phase each."""
    groups: list[list[MigrationPhase]] = []
    for m in pending:
        if groups and groups[-1][-1].phase is m.phase:
            groups[-1].append(m)
        else:
            groups.append([m])
    steps = []
    for number, group in enumerate(groups, start=1):
        phase = group[0].phase
        waits: list[str] = []
        if phase is Phase.CONTRACT:
            for m in group:
                expand = matching_expand(m, history)
                if expand and expand not in waits:
                    waits.append(expand)
        warnings = tuple(
            f"{m.id} mixes expand and contract statements: split it" for m in group if m.mixed
        )
        steps.append(DeployStep(number, phase, tuple(group), tuple(waits), warnings))
    return steps


def render_plan(steps: Sequence[DeployStep]) -> str:
    if not steps:
        return "no pending migrations"
    lines: list[str] = []
    for step in steps:
        lines.append(f"deploy {step.number} — {step.phase.label}")
        lines.append(f"  {_ADVICE[step.phase]}")
        for m in step.migrations:
            how = "declared" if m.declared else "inferred"
            lines.append(f"  - {m.id} ({m.path}) [{how}]")
            lines.extend(f"      {r}" for r in m.reasons)
        if step.waits_for:
            lines.append(f"  gate: every running release must include {', '.join(step.waits_for)}")
        lines.extend(f"  warning: {w}" for w in step.warnings)
    return "\n".join(lines)
