"""What StartRefresh returns, and the envelope a manual (direct) invocation receives."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from asg_refresh.models.base import Model


class StartedRefresh(Model):
    group: str
    refresh_id: str
    image_id: str
    launch_template_id: str
    launch_template_version: int | None = Field(description="The version created; None when attached.")
    execution_arn: str | None = None
    attached: bool = Field(default=False, description="True when the refresh was already running.")
    alarms: list[str] = Field(default_factory=list, description="The alarms its watcher checks.")


class SkippedGroup(Model):
    group: str
    code: str
    reason: str


class QueuedGroup(Model):
    """A group refreshing towards another image: this deployment waits its turn (README, "Newer
    images")."""

    group: str
    policy: Literal["queue", "replace"]
    behind_refresh_id: str
    reason: str


class StartResult(Model):
    id: str = Field(description="The deployment id (the trigger's event id unless one was given).")
    created_at: datetime
    trigger: str
    image_id: str
    refreshes: list[StartedRefresh] = Field(default_factory=list)
    skipped: list[SkippedGroup] = Field(default_factory=list)
    queued: list[QueuedGroup] = Field(default_factory=list)


class ErrorBody(Model):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Envelope(Model):
    """``{"success": true, "data": ...}`` or ``{"success": false, "error": {"code", "message"}}``."""

    model_config = ConfigDict(extra="forbid")

    success: Literal[True, False]
    data: dict[str, Any] | None = None
    error: ErrorBody | None = None

    def to_response(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
