"""What a strategy needs to know to plan a deploy."""

from __future__ import annotations

from dataclasses import dataclass

from turnout.core.config import DeployConfig


@dataclass(frozen=True)
class PlanContext:
    new: str  # the release being deployed
    current: str | None  # the release serving now (None on a first deploy)
    current_instances: tuple[str, ...]  # its running instances, oldest first
    instances: int  # how many instances the new release should have
    deploy: DeployConfig

    @property
    def first(self) -> bool:
        return self.current is None or not self.current_instances

    @property
    def has_smoke(self) -> bool:
        smoke = self.deploy.smoke
        return bool(smoke.checks or smoke.command)
