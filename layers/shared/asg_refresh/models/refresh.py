"""An instance refresh as DescribeInstanceRefreshes describes it, bounded as botocore's model bounds it.

The one typed record of an instance refresh: the watcher's ``describe`` (the state machine's
aws-sdk task output, timestamps as ISO strings) and boto3's answer (timestamps as ``datetime``)
both validate into it. Field names are snake_case in Python and the API's PascalCase on the
wire; both are accepted. Fields AWS may add later are ignored, not refused: an answer of AWS's
is never invalid for being newer than this model. Bounds and enums: botocore's
``autoscaling/2011-01-01/service-2.json`` (``InstanceRefresh``, ``RefreshPreferences``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_pascal

from asg_refresh.models.base import Model

#: ``InstanceRefreshStatus``.
RefreshStatus = Literal[
    "Pending",
    "InProgress",
    "Successful",
    "Failed",
    "Cancelling",
    "Cancelled",
    "RollbackInProgress",
    "RollbackFailed",
    "RollbackSuccessful",
    "Baking",
]
ACTIVE_STATUSES: frozenset[str] = frozenset({"Pending", "InProgress", "Baking"})
UNWINDING_STATUSES: frozenset[str] = frozenset({"Cancelling", "RollbackInProgress"})
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"}
)

MAX_DELAY_SECONDS = 172_800
#: ``XmlStringMaxLen255``: names and ids.
Name255 = Annotated[str, Field(min_length=1, max_length=255)]
#: ``XmlStringMaxLen1023``: status and rollback reasons.
Reason1023 = Annotated[str, Field(min_length=1, max_length=1023)]
#: ``IntPercent``.
Percent = Annotated[int, Field(ge=0, le=100)]
#: ``InstancesToUpdate``: AWS sets no maximum; a group holds at most a few thousand instances.
InstanceCount = Annotated[int, Field(ge=0, le=1_000_000)]
#: ``RefreshInstanceWarmup``: no maximum in the model; 20 days is far beyond any real warm-up.
WarmupSeconds = Annotated[int, Field(ge=0, le=10 * MAX_DELAY_SECONDS)]
DelaySeconds = Annotated[int, Field(ge=0, le=MAX_DELAY_SECONDS)]


class AwsShape(Model):
    """Base of the models of AWS's answers: PascalCase aliases, both spellings accepted."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="ignore", frozen=True)

    def to_api(self) -> dict[str, Any]:
        """The PascalCase dict AWS (and the state machine) uses, timestamps as ISO strings."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ProgressOfPool(AwsShape):
    """``InstanceRefreshLivePoolProgress`` and ``InstanceRefreshWarmPoolProgress``."""

    percentage_complete: Percent | None = None
    instances_to_update: InstanceCount | None = None


class ProgressDetails(AwsShape):
    """``InstanceRefreshProgressDetails``."""

    live_pool_progress: ProgressOfPool | None = None
    warm_pool_progress: ProgressOfPool | None = None


class RefreshAlarms(AwsShape):
    """``AlarmSpecification``."""

    alarms: list[Name255] = Field(default_factory=list, max_length=10)


class DescribedPreferences(AwsShape):
    """``RefreshPreferences`` as AWS reports them (AWS fills in its defaults)."""

    min_healthy_percentage: Percent | None = None
    max_healthy_percentage: int | None = Field(default=None, ge=100, le=200)
    instance_warmup: WarmupSeconds | None = None
    checkpoint_percentages: list[Annotated[int, Field(ge=1, le=100)]] | None = Field(
        default=None, max_length=100
    )
    checkpoint_delay: DelaySeconds | None = None
    skip_matching: bool | None = None
    auto_rollback: bool | None = None
    scale_in_protected_instances: Literal["Refresh", "Ignore", "Wait"] | None = None
    standby_instances: Literal["Terminate", "Ignore", "Wait"] | None = None
    alarm_specification: RefreshAlarms | None = None
    bake_time: DelaySeconds | None = None


class RollbackDetails(AwsShape):
    """``RollbackDetails``."""

    rollback_reason: Reason1023 | None = None
    rollback_start_time: datetime | None = None
    percentage_complete_on_rollback: Percent | None = None
    instances_to_update_on_rollback: InstanceCount | None = None
    progress_details_on_rollback: ProgressDetails | None = None


class InstanceRefresh(AwsShape):
    """``InstanceRefresh``: one item of DescribeInstanceRefreshes' ``InstanceRefreshes``."""

    instance_refresh_id: Name255
    auto_scaling_group_name: Name255 | None = None
    status: RefreshStatus
    status_reason: Reason1023 | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    percentage_complete: Percent | None = None
    instances_to_update: InstanceCount | None = None
    progress_details: ProgressDetails | None = None
    preferences: DescribedPreferences | None = None
    #: ``DesiredConfiguration`` (a launch template or mixed instances policy, deep and only
    #: passed through: never read by the product), kept as AWS wrote it.
    desired_configuration: dict[str, Any] | None = None
    rollback_details: RollbackDetails | None = None
    strategy: Literal["Rolling", "ReplaceRootVolume"] | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class DescribedRefreshes(AwsShape):
    """``DescribeInstanceRefreshesAnswer``: one page of a group's refreshes, newest first."""

    instance_refreshes: list[InstanceRefresh] = Field(default_factory=list, max_length=100)
    #: ``XmlString``, unbounded in the model; AWS's tokens are a few hundred characters.
    next_token: str | None = Field(default=None, max_length=4096)

    def find(self, refresh_id: str) -> InstanceRefresh | None:
        return next((r for r in self.instance_refreshes if r.instance_refresh_id == refresh_id), None)
