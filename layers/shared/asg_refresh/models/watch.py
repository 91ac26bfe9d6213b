"""The state the watching state machine carries from task to task.

StartRefresh builds :class:`WatchInput`; every poll, EvaluateGates receives the state with the
fresh ``describe`` result and returns it with an updated ``watch`` and ``decision``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from asg_refresh.models.gates import GateConfig

Action = Literal["wait", "rollback", "cancel", "restart", "restore", "approve", "continue", "report"]
#: What the watcher asked AWS for: stop (rollback, cancel), or pause to move on later (hold: outside
#: the time window; promote: past a checkpoint), both of which restart the refresh afterwards.
Requested = Literal["rollback", "cancel", "hold", "promote"]
GateKind = Literal["cloudwatch-alarms", "metric-threshold", "time-window", "manual-approval"]


class GateEvidence(BaseModel):
    name: str
    state: str
    reason: str | None = None


class GateVerdict(BaseModel):
    gate: GateKind
    effect: Literal["rollback", "hold"] = "rollback"
    passed: bool
    summary: str
    evidence: list[GateEvidence] = Field(default_factory=list)
    retry_after_seconds: int | None = Field(
        default=None,
        ge=0,
        description="A holding gate: when it will pass at the earliest (a window opening).",
    )


class WatchProgress(BaseModel):
    polls: int = Field(default=0, ge=0)
    execution_polls: int = Field(default=0, ge=0, description="Polls made by the current execution.")
    waited_seconds: int = Field(default=0, ge=0)
    budget_seconds: int = Field(default=86_400, ge=60)
    last_percentage: int | None = None
    last_wait: int | None = None
    segment_started: int = Field(default=0, ge=0, description="waited_seconds when this refresh began")
    baking_since: int | None = None
    checkpoint_since: int | None = Field(default=None, description="waited_seconds when the hold began")
    paused_seconds: int = Field(default=0, ge=0, description="time held at checkpoints in this refresh")
    requested: Requested | None = None
    reason: str | None = None
    verdicts: list[GateVerdict] = Field(default_factory=list, description="The latest verdicts.")
    failed_verdict: GateVerdict | None = None
    approved_checkpoints: list[int] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list, description="Earlier refresh ids (before restarts).")
    restore_of: str | None = Field(
        default=None, description="The refresh rolled back (or stopped) before the restore began."
    )
    restore_refresh_id: str | None = Field(default=None, description="The refresh that restores them.")


class Decision(BaseModel):
    action: Action
    wait_seconds: int = Field(default=0, ge=0)
    checkpoint: int | None = Field(default=None, description="The checkpoint an approval is asked for.")
    restart_preferences: dict[str, Any] | None = None
    continue_as: str | None = Field(default=None, description="The execution the watch continues in.")


class Outcome(BaseModel):
    deployment_id: str
    group: str
    refresh_id: str
    status: str
    succeeded: bool
    reason: str | None
    requested: Requested | None
    image_id: str
    launch_template_version: int | None
    percentage_complete: int | None
    polls: int
    watched_seconds: int
    failed_gate: GateVerdict | None
    segments: list[str] = Field(default_factory=list)
    restore_refresh_id: str | None = Field(
        default=None, description="The refresh that put earlier segments' instances back (see README)."
    )
    started_at: str | None = None
    ended_at: str | None = None


class WatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    deployment_id: str
    group: str = Field(min_length=1, max_length=255)
    refresh_id: str = Field(min_length=1, max_length=255)
    image_id: str
    launch_template_id: str
    launch_template_version: int | None = None
    alarms: list[str] = Field(default_factory=list)
    gates: GateConfig = Field(default_factory=GateConfig)
    watcher: str | None = Field(default=None, description="The watching execution's name.")
    strategy: str = "Rolling"
    desired_configuration: dict[str, Any] | None = None
    restore_configuration: dict[str, Any] | None = Field(
        default=None,
        description="The group's configuration pinned to the version it ran before the deployment: "
        "what a restore refreshes towards (None when unknown: no restore).",
    )
    preferences: dict[str, Any] = Field(default_factory=dict, description="As sent to StartInstanceRefresh.")


class Approval(BaseModel):
    """What a person sent back through SendTaskSuccess (or what a timeout/failure means)."""

    model_config = ConfigDict(extra="ignore")

    approved: bool = False
    by: str | None = Field(default=None, description="The caller's ARN (asg-refresh approve|reject).")
    display_name: str | None = None
    comment: str | None = None


class WatchState(WatchInput):
    describe: dict[str, Any] | None = Field(default=None, description="DescribeInstanceRefreshes output")
    watch: WatchProgress = Field(default_factory=WatchProgress)
    decision: Decision | None = None
    outcome: Outcome | None = None
    restarted: dict[str, Any] | None = Field(default=None, description="StartInstanceRefresh output")
    approval: Approval | None = None
    approval_error: dict[str, Any] | None = None
