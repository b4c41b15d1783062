"""The contract gate at the control plane's edge: which migrations each release folder
carries, which releases run (from the store), and the gate's decision for a deploy or a
rollback.

A release's migrations are the ``[migrations] path`` folder (SQL files) or ``alembic``
project inside its immutable folder; their ids are the file stems or revision ids.
The live release's migrations count as applied: the pending ones are those the new
release adds. The decision itself is pure (``turnout.core.migrations.gate``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.core.migrations.settings import LintSettings, known_rule_ids, settings_from_table
from turnout.core.records import InstanceRecord
from turnout.errors import ConflictError, UserError

if TYPE_CHECKING:  # the gate's modules need pglast (the migrations extra): imported on use
    from turnout.core.migrations.gate import GateDecision, RunningRelease
    from turnout.core.migrations.phases import MigrationPhase

__all__ = ["MigrationGate", "StoreReleases"]

_OCCUPIED = ("starting", "running", "stopping")  # an instance being stopped still serves


class StoreReleases:
    """:class:`turnout.migrations.releases.ReleaseStore` over the controller's store:
    every release with a live instance, and the migrations its folder carries."""

    def __init__(
        self,
        instances: Sequence[InstanceRecord],
        folders: Mapping[str, Path | None],
        migrations_in: Callable[[Path], list[MigrationPhase] | None],
    ) -> None:
        self._instances = instances
        self._folders = folders  # release → its folder (None: unknown release)
        self._migrations_in = migrations_in

    def running_releases(self) -> list[RunningRelease]:
        from turnout.core.migrations.gate import Instance, RunningRelease

        by_release: dict[str, list[Instance]] = {}
        for inst in sorted(self._instances, key=lambda i: (i.release, i.started_at, i.id)):
            if inst.state in _OCCUPIED:
                started = datetime.fromtimestamp(inst.started_at, UTC)
                by_release.setdefault(inst.release, []).append(Instance(inst.id, started))
        out = []
        for name, instances in by_release.items():
            folder = self._folders.get(name)
            phases = self._migrations_in(folder) if folder is not None else None
            ids = None if phases is None else frozenset(m.id for m in phases)
            out.append(RunningRelease(name, ids, tuple(instances)))
        return out


class MigrationGate:
    """Reads the migrations of release folders (cached: release folders never change) and
    decides whether a release may go live while the running releases run."""

    def __init__(self, table: dict[str, Any], project: Path) -> None:
        self.settings: LintSettings = settings_from_table(table, "[migrations]", known_rule_ids())
        self.project = project
        self._cache: dict[Path, list[MigrationPhase] | None] = {}

    @property
    def enabled(self) -> bool:
        return self.settings.path is not None or self.settings.alembic is not None

    def migrations_in(self, folder: Path) -> list[MigrationPhase] | None:
        """The phases of the migrations in a release folder, in order; ``[]`` when it has
        no migrations folder; ``None`` when the release folder itself is gone (pruned)."""
        if folder in self._cache:
            return self._cache[folder]
        if not folder.is_dir():
            return None
        phases = self._read(folder)
        self._cache[folder] = phases
        return phases

    def _read(self, release: Path) -> list[MigrationPhase]:
        from turnout.core.migrations.lint import lint_migrations
        from turnout.migrations.config import read_schema
        from turnout.migrations.load import load_sources

        settings = self.settings
        where = release / (settings.alembic or settings.path or "")
        if not where.is_dir() or (settings.path is not None and not any(where.glob("*.sql"))):
            return []  # a release without migrations
        sources = load_sources([], None, settings, release)
        facts = read_schema(self.project / settings.schema) if settings.schema else None
        return [r.phase() for r in lint_migrations(sources, settings, facts)]

    def check_deploy(
        self, new_folder: Path, live_folder: Path | None, releases: StoreReleases
    ) -> GateDecision:
        """May the release in ``new_folder`` go live? Its migrations that the live release
        lacks are pending; the running releases are the ones that could meet them."""
        _needs_pglast()
        from turnout.migrations.releases import check_release

        history = self.migrations_in(new_folder) or []
        live = self.migrations_in(live_folder) if live_folder is not None else None
        applied = {m.id for m in live or ()}
        return check_release(releases, history, applied)

    @staticmethod
    def explain(decision: GateDecision, live: str | None) -> str:
        """The decision's message, with what to do about the releases that block it."""
        text = decision.message
        blocking = sorted({b.release for b in decision.blockers})
        if live in blocking:
            expand = next(b.expand for b in decision.blockers if b.release == live)
            return f"{text}; the live release {live} predates {expand}: deploy one that has it"
        if blocking:
            one = len(blocking) == 1
            return (
                f"{text}; {', '.join(blocking)} only {'stays' if one else 'stay'} warm for a "
                f"rollback: 'turnout retire' stops {'it' if one else 'them'} now"
            )
        return text

    def check_rollback(self, target: str, target_folder: Path, live_folder: Path) -> None:
        """Refuse going back past a contract migration (``decide_rollback``)."""
        _needs_pglast()
        from turnout.core.migrations.gate import decide_rollback

        target_ids = frozenset(m.id for m in self.migrations_in(target_folder) or ())
        decision = decide_rollback(target, target_ids, self.migrations_in(live_folder) or [])
        if not decision.allowed:
            raise ConflictError(f"migration gate ({decision.reason}): {decision.message}")


def _needs_pglast() -> None:
    if importlib.util.find_spec("pglast") is None:
        raise UserError(
            "[migrations] path/alembic is set, so deploys check the release's migrations, "
            "which needs pglast: pip install 'turnout[migrations]'"
        )
