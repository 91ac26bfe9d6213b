"""The state the watching state machine carries from task to task.

StartRefresh builds :class:`WatchInput`; every poll, EvaluateGates receives the state with the
fresh ``describe`` result and returns it with an updated ``watch`` and ``decision``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from asg_refresh.models.base import Model
from asg_refresh.models.deploy import GroupName, ImageId
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.refresh import DescribedPreferences, DescribedRefreshes, Name255

#: ``LaunchTemplateSpecification.LaunchTemplateId`` of Auto Scaling (``XmlStringMaxLen255``);
#: empty when the reconciler adopts a refresh without a launch template.
LaunchTemplateId = Annotated[str, Field(max_length=255)]
#: Deployment ids: event ids, SNS message ids, a message's ``deployment_id``, a rollout's id.
DeploymentId = Annotated[str, Field(min_length=1, max_length=255)]


def _api_preferences(value: dict[str, Any]) -> dict[str, Any]:
    """StartInstanceRefresh Preferences, as sent: kept as the API's dict, its bounds checked (as
    DescribeInstanceRefreshes reports them: an adopted refresh carries AWS's own)."""
    DescribedPreferences.model_validate(value)
    return value


#: StartInstanceRefresh's ``Preferences`` as the watcher carries them (PascalCase, bounded).
ApiPreferences = Annotated[dict[str, Any], AfterValidator(_api_preferences)]
#: Step Functions execution names are 1-80 characters.
ExecutionName = Annotated[str, Field(min_length=1, max_length=80)]

Action = Literal["wait", "rollback", "cancel", "restart", "restore", "approve", "continue", "report"]
#: What the watcher asked AWS for: stop (rollback, cancel), or pause to move on later (hold: outside
#: the time window; promote: past a checkpoint), both of which restart the refresh afterwards.
Requested = Literal["rollback", "cancel", "hold", "promote"]
GateKind = Literal["cloudwatch-alarms", "metric-threshold", "time-window", "manual-approval"]


class GateEvidence(Model):
    name: str
    state: str
    reason: str | None = None


class GateVerdict(Model):
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


#: A watch's seconds: a year is far beyond any budget (days of checkpoint delays and bake).
Seconds = Annotated[int, Field(ge=0, le=366 * 86_400)]
#: Polls: a year of the shortest interval.
Polls = Annotated[int, Field(ge=0, le=366 * 86_400)]


class WatchProgress(Model):
    polls: Polls = 0
    execution_polls: Polls = Field(default=0, description="Polls made by the current execution.")
    waited_seconds: Seconds = 0
    budget_seconds: int = Field(default=86_400, ge=60, le=366 * 86_400)
    last_percentage: int | None = Field(default=None, ge=0, le=100)
    last_wait: Seconds | None = None
    segment_started: Seconds = Field(default=0, description="waited_seconds when this refresh began")
    baking_since: Seconds | None = None
    checkpoint_since: Seconds | None = Field(default=None, description="waited_seconds when the hold began")
    paused_seconds: Seconds = Field(default=0, description="time held at checkpoints in this refresh")
    requested: Requested | None = None
    reason: str | None = Field(default=None, max_length=65_536)
    verdicts: list[GateVerdict] = Field(
        default_factory=list, description="The latest verdicts.", max_length=10
    )
    failed_verdict: GateVerdict | None = None
    approved_checkpoints: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=list, max_length=100
    )
    segments: list[Name255] = Field(
        default_factory=list, max_length=1000, description="Earlier refresh ids (before restarts)."
    )
    restore_of: str | None = Field(
        default=None, description="The refresh rolled back (or stopped) before the restore began."
    )
    restore_refresh_id: str | None = Field(default=None, description="The refresh that restores them.")


#: A checkpoint, as a percentage of the refresh.
Checkpoint = Annotated[int, Field(ge=0, le=100)]


class _Waits(Model):
    """A decision after which the state machine waits (``SecondsPath: $.decision.wait_seconds``)."""

    wait_seconds: Seconds


class WaitDecision(_Waits):
    """Poll again after ``wait_seconds``."""

    action: Literal["wait"] = "wait"


class RollbackDecision(_Waits):
    """Roll the refresh back (a gate failed), then poll."""

    action: Literal["rollback"] = "rollback"


class CancelDecision(_Waits):
    """Cancel the refresh (the budget ran out; or a hold, or a promote at ``checkpoint``), then poll."""

    action: Literal["cancel"] = "cancel"
    checkpoint: Checkpoint | None = Field(default=None, description="The checkpoint a promote moves past.")


class RestartDecision(_Waits):
    """Start the refresh again after a hold or a promote, with ``restart_preferences``."""

    action: Literal["restart"] = "restart"
    restart_preferences: ApiPreferences


class RestoreDecision(_Waits):
    """Refresh towards the version the group ran before, with ``restart_preferences``."""

    action: Literal["restore"] = "restore"
    restart_preferences: ApiPreferences


class ApproveDecision(Model):
    """Ask a person at ``checkpoint``; the state machine describes the refresh again on the answer."""

    action: Literal["approve"] = "approve"
    checkpoint: Checkpoint = Field(description="The checkpoint an approval is asked for.")


class ContinueDecision(_Waits):
    """Wait, then hand the watch over to the execution ``continue_as``."""

    action: Literal["continue"] = "continue"
    continue_as: str = Field(description="The execution the watch continues in.")


class ReportDecision(Model):
    """The watch is over: publish the outcome (the Choice's default branch)."""

    action: Literal["report"] = "report"


#: What the watcher does next, one model per :data:`Action`, told apart by ``action``: each
#: carries only what the state machine reads after that Choice (tests/unit/test_watch_input.py
#: checks every ``$.decision`` path of the ASL against them).
Decision = Annotated[
    WaitDecision
    | RollbackDecision
    | CancelDecision
    | RestartDecision
    | RestoreDecision
    | ApproveDecision
    | ContinueDecision
    | ReportDecision,
    Field(discriminator="action"),
]


def waited_after(decision: Decision) -> int:
    """The seconds the state machine waits after ``decision`` (none after approve or report)."""
    return decision.wait_seconds if isinstance(decision, _Waits) else 0


class Outcome(Model):
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


class WatchInput(Model):
    model_config = ConfigDict(extra="ignore")

    deployment_id: DeploymentId
    group: GroupName
    refresh_id: Name255
    #: Empty when the reconciler adopts a refresh whose image it cannot tell.
    image_id: ImageId | Literal[""]
    launch_template_id: LaunchTemplateId
    launch_template_version: int | None = Field(default=None, ge=1, le=2**63 - 1)
    alarms: list[Name255] = Field(default_factory=list, max_length=100)
    gates: GateConfig = Field(default_factory=GateConfig)
    watcher: ExecutionName | None = Field(default=None, description="The watching execution's name.")
    strategy: Literal["Rolling", "ReplaceRootVolume"] = "Rolling"
    desired_configuration: dict[str, Any] | None = None
    restore_configuration: dict[str, Any] | None = Field(
        default=None,
        description="The group's configuration pinned to the version it ran before the deployment: "
        "what a restore refreshes towards (None when unknown: no restore).",
    )
    preferences: ApiPreferences = Field(default_factory=dict, description="As sent to StartInstanceRefresh.")


class Approval(Model):
    """What a person sent back through SendTaskSuccess (or what a timeout/failure means)."""

    model_config = ConfigDict(extra="ignore")

    approved: bool = False
    by: str | None = Field(default=None, description="The caller's ARN (asg-refresh approve|reject).")
    display_name: str | None = None
    comment: str | None = None


class Restarted(Model):
    """StartInstanceRefresh's output as the state machine keeps it (``$.restarted``), with the
    refresh it replaced (``previous``)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    instance_refresh_id: Name255 | None = Field(default=None, alias="InstanceRefreshId")
    previous: Name255 | None = None


class WatchState(WatchInput):
    describe: DescribedRefreshes | None = Field(default=None, description="DescribeInstanceRefreshes output")
    watch: WatchProgress = Field(default_factory=WatchProgress)
    decision: Decision | None = None
    outcome: Outcome | None = None
    restarted: Restarted | None = Field(default=None, description="StartInstanceRefresh output")
    approval: Approval | None = None
    approval_error: dict[str, Any] | None = None


class ResumedRefresh(Model):
    """A refresh the state machine started since the last decision, in place of ``previous``: to
    resume it after a hold or a promote, or (``restore``) to put back what earlier segments
    replaced."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str
    group: str
    refresh_id: str
    previous: str
    watcher: str | None
    restore: bool = False


class WindowHold(Model):
    """The watcher holds a refresh for a closed time window (``holding``), until ``until`` (UTC,
    ISO 8601 to the second; None when no opening comes within a year), or no longer does."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str
    group: str
    refresh_id: str
    holding: bool
    until: str | None = None
    reason: str | None = None


class WatchRecords(Model):
    """What one decision of the watcher leaves in the audit table (``logic/watch_audit.py``)."""

    model_config = ConfigDict(frozen=True)

    resumed: ResumedRefresh | None = None
    outcome: Outcome | None = None
    hold: WindowHold | None = Field(
        default=None, description="A time-window hold begun, moved or ended; None: unchanged."
    )
