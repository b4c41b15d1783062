"""What the control plane remembers: releases, deploys, instances and the journal.

Plain values; the store (``turnout.store``) persists them, the engine and the CLI
read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DeployStatus = Literal["running", "paused", "rolling_back", "succeeded", "rolled_back", "failed"]
ACTIVE_STATUSES = ("running", "paused", "rolling_back")
InstanceState = Literal["starting", "running", "stopping", "stopped", "exited"]
LIVE_INSTANCE_STATES = ("starting", "running")


@dataclass(frozen=True)
class ReleaseRecord:
    name: str  # "r3-3f2a9c1e": sequence number and digest prefix; also the router pool name
    seq: int
    digest: str
    source: str
    kind: str  # folder | archive | wheel | git
    path: str  # the stored, read-only release folder
    config: dict[str, Any]  # the [app] and [health] config it was deployed with
    env: dict[str, str]
    created_at: float


@dataclass(frozen=True)
class DeployRecord:
    id: int
    release: str
    previous: str | None
    strategy: str  # recreate | rolling | bluegreen | rollback
    status: DeployStatus
    phase: Literal["deploy", "rollback"]
    step: int  # index of the next step to run in the current phase's plan
    plan: str  # JSON of the deploy plan
    rollback_plan: str | None
    reason: str | None  # stable code, e.g. "not_healthy"
    message: str | None  # for people
    started_at: float
    finished_at: float | None
    user: str
    promote: bool = False  # a human asked to continue past a pause
    abort: bool = False  # a human asked to roll back

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class InstanceRecord:
    id: str
    release: str
    deploy_id: int | None
    group: str
    port: int
    pid: int | None
    start_ticks: int | None
    state: InstanceState
    exit_code: int | None
    started_at: float
    stopped_at: float | None
    log_path: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def live(self) -> bool:
        return self.state in LIVE_INSTANCE_STATES


@dataclass(frozen=True)
class JournalEntry:
    id: int
    deploy_id: int
    phase: str  # deploy | rollback | control
    step: int
    event: str  # begin | end | fail | info
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
