"""Typed records of what logic reads from AWS: the vocabulary of the ports (dal/ports.py).

They live in dal/, not models/, because they are the data-access layer's contract: models/
holds what crosses the product's own boundaries (events, state machine payloads, results),
while these are views of AWS resources that only the ports hand out. dal/aws.py is the one
place that builds them from AWS's PascalCase answers; logic and the fakes only read them.
The instance refresh is models/refresh.py's ``InstanceRefresh`` (the watcher's describe
validates into it too), re-exported here so that logic finds every record in one place.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict

from asg_refresh.models.base import Model
from asg_refresh.models.refresh import InstanceRefresh, RefreshStatus

__all__ = [
    "ACTIVE_REFRESH_STATUSES",
    "Alarm",
    "Execution",
    "Group",
    "GroupInstance",
    "Image",
    "InstanceRefresh",
    "LaunchOverride",
    "LaunchTemplateSpec",
    "MetricResult",
    "Refresh",
    "TemplateVersion",
]

#: A refresh that still holds its group: a new one cannot start until it ends.
ACTIVE_REFRESH_STATUSES = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})


class Record(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LaunchTemplateSpec(Record):
    """A ``LaunchTemplateSpecification``: a template by id or by name, and the version it names."""

    id: str | None = None
    name: str | None = None
    #: As AWS writes it: a number, ``$Latest`` or ``$Default``; None when it names none.
    version: str | None = None

    @property
    def named(self) -> str | None:
        """The id, or the name when it carries no id."""
        return self.id or self.name

    @property
    def version_followed(self) -> str:
        """The version followed; AWS takes a missing one as ``$Default``."""
        return self.version or "$Default"


class GroupInstance(Record):
    """One of the group's instances, as DescribeAutoScalingGroups lists it."""

    id: str
    lifecycle_state: str | None = None
    health_status: str | None = None
    protected_from_scale_in: bool | None = None
    #: The template version it was launched from; None for a launch configuration.
    launch_template: LaunchTemplateSpec | None = None


class LaunchOverride(Record):
    """One of a mixed instances policy's ``Overrides``: what it launches instead of the template's
    instance type."""

    instance_type: str | None = None
    #: Whether it chooses instance types by ``InstanceRequirements`` (attributes, not names).
    instance_requirements: bool = False
    launch_template: LaunchTemplateSpec | None = None


class Group(Record):
    """An Auto Scaling group: its name and tags (the opt-in and alarm tags logic reads), and,
    when described in full, its launch template, instances and capacity."""

    name: str
    tags: dict[str, str] = {}
    #: Its own launch template: ``LaunchTemplate``, or its ``MixedInstancesPolicy``'s.
    launch_template: LaunchTemplateSpec | None = None
    #: The templates of the mixed instances policy's overrides.
    override_templates: tuple[LaunchTemplateSpec, ...] = ()
    #: The mixed instances policy's overrides, in order (empty without one).
    launch_overrides: tuple[LaunchOverride, ...] = ()
    #: ``MixedInstancesPolicy`` as AWS wrote it: only handed back to AWS (dal/requests.py).
    mixed_instances_policy: dict[str, Any] | None = None
    instances: tuple[GroupInstance, ...] = ()
    desired_capacity: int = 0
    min_size: int | None = None
    max_size: int | None = None
    default_instance_warmup: int | None = None
    health_check_grace_period: int | None = None
    #: ``VPCZoneIdentifier``'s subnets, in order.
    subnet_ids: tuple[str, ...] = ()

    @property
    def template_specs(self) -> tuple[LaunchTemplateSpec, ...]:
        """Every launch template specification of the group: its own, and its overrides'."""
        own = (self.launch_template,) if self.launch_template else ()
        return own + self.override_templates

    def tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def is_opted_in(self, key: str, value: str) -> bool:
        return self.tags.get(key) == value

    def tag_list(self, key: str) -> list[str]:
        """A comma-separated tag's values, stripped (the alarm tag)."""
        return [name.strip() for name in (self.tags.get(key) or "").split(",")]


class TemplateVersion(Record):
    """One version of a launch template, and the image it launches."""

    template_id: str
    version: int
    image_id: str = ""
    #: ``LaunchTemplateData.InstanceType``; None when it names none.
    instance_type: str | None = None
    #: Whether it chooses instance types by ``InstanceRequirements`` instead.
    instance_requirements: bool = False


class Refresh(Record):
    """An instance refresh as logic reads it from DescribeInstanceRefreshes.

    Not models/refresh.py's ``InstanceRefresh``: logic hands a refresh's ``DesiredConfiguration``
    and ``Preferences`` on (to the watcher's input) exactly as AWS wrote them, which that
    model's typed preferences would normalise."""

    id: str
    status: RefreshStatus
    #: The launch template its desired configuration goes towards, if it names one.
    target_template: LaunchTemplateSpec | None = None
    #: ``DesiredConfiguration`` and ``Preferences`` as AWS wrote them, passed through.
    desired_configuration: dict[str, Any] = {}
    preferences: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_REFRESH_STATUSES


def active_refresh(refreshes: list[Refresh]) -> Refresh | None:
    return next((r for r in refreshes if r.active), None)


class Image(Record):
    """An AMI as DescribeImages describes it: what the product checks before rolling it out."""

    id: str
    state: str | None = None
    owner_id: str | None = None
    #: ISO 8601, as AWS writes it (so that it sorts as it reads).
    creation_date: str = ""
    #: ``Architecture`` (x86_64, arm64, i386...); None when the answer gives none.
    architecture: str | None = None


class Alarm(Record):
    """A metric or composite alarm as DescribeAlarms describes it."""

    name: str
    #: ``StateValue``: OK, ALARM or INSUFFICIENT_DATA.
    state: str
    reason: str | None = None


class MetricResult(Record):
    """One query's datapoints from GetMetricData (every page merged), newest first."""

    id: str
    values: tuple[float, ...] = ()


class Execution(Record):
    """A Step Functions execution as DescribeExecution describes it."""

    name: str
    status: str
    output: str | None = None

    @property
    def continued_as(self) -> str | None:
        """The execution a long watch handed over to (its output's ``continued_as``)."""
        handed_over: Any = json.loads(self.output or "{}").get("continued_as")
        return str(handed_over) if handed_over else None
