"""The refresh as the emulation keeps it: plain dataclasses, serialised by ``to_api``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    BAKING = "Baking"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    ROLLBACK_IN_PROGRESS = "RollbackInProgress"
    ROLLBACK_FAILED = "RollbackFailed"
    ROLLBACK_SUCCESSFUL = "RollbackSuccessful"


#: Statuses that block a new StartInstanceRefresh and that Cancel/Rollback act on.
ACTIVE = frozenset(
    {Status.PENDING, Status.IN_PROGRESS, Status.BAKING, Status.CANCELLING, Status.ROLLBACK_IN_PROGRESS}
)


@dataclass(frozen=True)
class InstanceConfig:
    """What an instance was launched from: enough to decide SkipMatching and rollback."""

    launch_template_id: str
    launch_template_name: str
    version: int
    image_id: str
    instance_type: str


@dataclass(frozen=True)
class TargetConfig:
    """A launch template version resolved to a number, plus the instance types allowed."""

    launch_template_id: str
    launch_template_name: str
    version: int
    image_id: str
    instance_types: tuple[str, ...]

    def matches(self, config: InstanceConfig) -> bool:
        return (
            config.launch_template_id == self.launch_template_id
            and config.version == self.version
            and config.instance_type in self.instance_types
        )

    def config_for_launch(self) -> InstanceConfig:
        # Mixed instances: the first override wins, as with the "prioritized" strategy.
        return InstanceConfig(
            self.launch_template_id,
            self.launch_template_name,
            self.version,
            self.image_id,
            self.instance_types[0],
        )


@dataclass(frozen=True)
class GroupConfig:
    """The group's own settings, kept to restore them on rollback."""

    launch_template: dict[str, Any] | None
    mixed_instances_policy: dict[str, Any] | None


@dataclass
class Preferences:
    min_healthy: int = 90
    max_healthy: int | None = None
    instance_warmup: int = 300
    checkpoint_percentages: list[int] = field(default_factory=list)
    checkpoint_delay: int | None = None
    skip_matching: bool = False
    auto_rollback: bool = False
    scale_in_protected: str = "Wait"
    standby: str = "Wait"
    alarms: list[str] = field(default_factory=list)
    bake_time: int = 0

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MinHealthyPercentage": self.min_healthy,
            "InstanceWarmup": self.instance_warmup,
            "SkipMatching": self.skip_matching,
            "AutoRollback": self.auto_rollback,
            "ScaleInProtectedInstances": self.scale_in_protected,
            "StandbyInstances": self.standby,
            "BakeTime": self.bake_time,
        }
        if self.max_healthy is not None:
            out["MaxHealthyPercentage"] = self.max_healthy
        if self.checkpoint_percentages:
            out["CheckpointPercentages"] = list(self.checkpoint_percentages)
            out["CheckpointDelay"] = self.checkpoint_delay
        if self.alarms:
            out["AlarmSpecification"] = {"Alarms": list(self.alarms)}
        return out

    def min_in_service(self, desired: int) -> int:
        # AWS: "a percentage of the desired capacity ... rounded up to the nearest integer".
        return math.ceil(self.min_healthy * desired / 100)

    def max_total(self, desired: int) -> int:
        if self.max_healthy is None:
            return desired
        return math.floor(self.max_healthy * desired / 100)


@dataclass
class RollbackDetails:
    reason: str
    start_time: datetime
    percentage_complete: int
    instances_to_update: int

    def to_api(self) -> dict[str, Any]:
        progress = {
            "PercentageComplete": self.percentage_complete,
            "InstancesToUpdate": self.instances_to_update,
        }
        return {
            "RollbackReason": self.reason,
            "RollbackStartTime": whole_seconds(self.start_time),
            "PercentageCompleteOnRollback": self.percentage_complete,
            "InstancesToUpdateOnRollback": self.instances_to_update,
            "ProgressDetailsOnRollback": {
                "LivePoolProgress": progress,
                "WarmPoolProgress": {"PercentageComplete": 0, "InstancesToUpdate": 0},
            },
        }


@dataclass
class Refresh:
    refresh_id: str
    group_name: str
    group_arn: str
    strategy: str
    preferences: Preferences
    desired_configuration: dict[str, Any] | None
    target: TargetConfig
    previous: GroupConfig
    previous_target: TargetConfig
    start_time: datetime
    status: Status = Status.PENDING
    status_reason: str | None = None
    end_time: datetime | None = None
    # Instances this refresh still has to replace, and how many it had at the start.
    remaining: list[str] = field(default_factory=list)
    total: int = 0
    updated: int = 0
    # Instances launched by this refresh (on the target config): what a rollback replaces.
    launched: list[str] = field(default_factory=list)
    rollback: RollbackDetails | None = None
    rollback_remaining: list[str] = field(default_factory=list)
    rollback_total: int = 0
    rollback_updated: int = 0
    # Scheduling: when the engine must next look at this refresh, and what it is waiting for.
    next_at: datetime | None = None
    phase: str = "pending"
    batch: list[str] = field(default_factory=list)
    batch_pending_terminations: list[str] = field(default_factory=list)
    batch_kind_rollback: bool = False
    checkpoints_left: list[int] = field(default_factory=list)
    blocked_since: datetime | None = None
    vanished: bool = False

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percentage_complete(self) -> int:
        if self.status is Status.SUCCESSFUL or (self.status is Status.BAKING):
            return 100
        if self.rollback is not None:
            # AWS: during a rollback it "gradually goes back down to zero".
            if self.rollback_total == 0:
                return 0
            left = self.rollback_total - self.rollback_updated
            return math.floor(self.rollback.percentage_complete * left / self.rollback_total)
        if self.total == 0:
            # Nothing to replace: done once it runs; a refresh stopped before it ran did nothing.
            return 100 if self.status is Status.IN_PROGRESS else 0
        return math.floor(100 * self.updated / self.total)

    @property
    def instances_to_update(self) -> int:
        """Instances whose replacement has not begun. It falls as a batch starts, while
        PercentageComplete waits for its warm-up: AWS shows "InProgress, 50 %, InstancesToUpdate
        0" while the last batch warms up."""
        if self.rollback is not None:
            return self.rollback.instances_to_update
        if self.status in (Status.SUCCESSFUL, Status.BAKING):
            return 0
        if self.status is Status.PENDING:
            return self.total
        return len(self.remaining)

    def to_api(self) -> dict[str, Any]:
        progress = {
            "PercentageComplete": self.percentage_complete,
            "InstancesToUpdate": self.instances_to_update,
        }
        out: dict[str, Any] = {
            "InstanceRefreshId": self.refresh_id,
            "AutoScalingGroupName": self.group_name,
            "Status": self.status.value,
            "StartTime": whole_seconds(self.start_time),
            "PercentageComplete": self.percentage_complete,
            "InstancesToUpdate": self.instances_to_update,
            "ProgressDetails": {
                "LivePoolProgress": progress,
                "WarmPoolProgress": {"PercentageComplete": 0, "InstancesToUpdate": 0},
            },
            "Preferences": self.preferences.to_api(),
            "Strategy": self.strategy,
        }
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        if self.end_time is not None:
            out["EndTime"] = whole_seconds(self.end_time)
        if self.desired_configuration:
            out["DesiredConfiguration"] = self.desired_configuration
        if self.rollback is not None:
            out["RollbackDetails"] = self.rollback.to_api()
        return out


def whole_seconds(when: datetime) -> datetime:
    """AWS gives instance refresh times to the second; a scaled clock's instants have fractions."""
    return when.replace(microsecond=0)


@dataclass
class LifecycleAction:
    """One instance held in Pending:Wait or Terminating:Wait by one lifecycle hook."""

    token: str
    group_name: str
    hook_name: str
    instance_id: str
    transition: str
    heartbeat_timeout: int
    default_result: str
    #: When the heartbeat timeout runs out (a heartbeat restarts it), and the hard limit after which
    #: no heartbeat helps (GlobalTimeout from the moment the instance entered the wait).
    deadline: datetime
    global_deadline: datetime
    #: A launch: the health it enters service with once every hook has continued it.
    healthy: bool = True
