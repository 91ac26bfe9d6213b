"""Deployments waiting for a group that refreshes towards another image (README, "Newer images")."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, computed_field

from asg_refresh.models.base import Model
from asg_refresh.models.deploy import DeployRequest, GroupName
from asg_refresh.models.results import StartedRefresh


class QueuedDeployment(Model):
    """One deployment waiting for one group: its request pinned to the image and to that group."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group: str
    request: DeployRequest
    image_id: str
    policy: Literal["queue", "replace"]
    behind_refresh_id: str
    queued_at: str


class QueueDrain(Model):
    """What the watcher says when its refresh ended: start what waits for the group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: GroupName
    refresh_id: str = Field(min_length=1, max_length=255)
    status: str = Field(min_length=1, max_length=64)


class QueueDrainResult(Model):
    group: str
    started: list[StartedRefresh] = Field(default_factory=list)
    superseded: list[str] = Field(default_factory=list, description="Deployment ids dropped for a newer one.")
    dropped: list[str] = Field(default_factory=list, description="Deployment ids not started, and why.")
    failed: list[str] = Field(
        default_factory=list, description="Deployment ids whose start was refused for good (the reason)."
    )
    reason: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def news(self) -> bool:
        """Whether anybody should hear of it (the watcher publishes it then)."""
        return bool(self.started or self.superseded or self.dropped or self.failed)
