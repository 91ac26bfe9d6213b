"""The ports logic depends on: small Protocols named by what logic needs from AWS.

dal/aws.py's ``AwsGateway`` implements every one of them but the audit trail's, which
dal/audit.py's ``AuditStore`` implements; tests/fakes implements them in memory. Logic modules
annotate their argument with the narrowest port (or the union of the few they use), never with
the concrete gateway or store (the handlers build those), so that a fake serves in a unit test.

The errors a port raises are declared here as well, since they are part of its contract
(dal/aws.py translates AWS's error codes into them, and re-exports them).

Not every port hands out records yet: those marked ``AwsItem`` still return AWS's raw answer
(see docs/architecture.md, "Not yet").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from asg_refresh.dal.records import (
    Alarm,
    Execution,
    Group,
    Image,
    LaunchTemplateSpec,
    MetricResult,
    Refresh,
    TemplateVersion,
)
from asg_refresh.models.deploy import DeployRequest
from asg_refresh.models.queue import QueuedDeployment, QueueDrain
from asg_refresh.models.resources import LaunchTemplateRecord, ParameterRecord
from asg_refresh.models.results import StartResult

AwsItem = dict[str, Any]


class RefreshAlreadyActive(Exception):
    """StartInstanceRefresh answered InstanceRefreshInProgress."""


class NoActiveRefresh(Exception):
    """Cancel or rollback answered ActiveInstanceRefreshNotFound."""


class RefreshIrreversible(Exception):
    """Rollback answered IrreversibleInstanceRefresh."""


#: What SendTaskSuccess/SendTaskFailure answer when nothing waits for the token any more.
CLOSED_TASK_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TaskTokenClosed(Exception):
    """SendTaskSuccess/SendTaskFailure answered one of :data:`CLOSED_TASK_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class TaggedGroups(Protocol):
    """Groups found by their tags (the opt-in tag, the alarm tag)."""

    def groups_with_tags(self, tags: dict[str, str]) -> list[Group]: ...

    def groups_with_tags_key(self, key: str) -> list[Group]: ...


class GroupPages(Protocol):
    """Opted-in groups a page at a time (the reconciler's sweep), and groups by name."""

    def tagged_groups_page(
        self, tags: dict[str, str], limit: int, token: str | None
    ) -> tuple[list[Group], str | None]: ...

    def groups_named(self, names: list[str]) -> list[Group]: ...


class GroupDescriptions(Protocol):
    """Groups described in full (launch template, mixed instances policy, instances, capacity)."""

    def describe_groups(self, names: list[str]) -> list[Group]: ...

    def all_groups(self) -> list[Group]: ...


class LaunchTemplates(Protocol):
    def describe_launch_templates(self, ids: list[str], names: list[str]) -> list[LaunchTemplateRecord]: ...

    def template_version(self, template: LaunchTemplateSpec, version: str) -> TemplateVersion: ...

    def floating_versions(self) -> list[TemplateVersion]:
        """Every template's ``$Latest`` and ``$Default`` versions (one bulk read)."""
        ...

    def create_launch_template_version(
        self, template: LaunchTemplateSpec, source_version: str, image_id: str, description: str
    ) -> TemplateVersion: ...

    def delete_launch_template_version(self, template_id: str, version: int) -> None: ...


class Images(Protocol):
    def account_id(self) -> str: ...

    def describe_image(self, image_id: str) -> Image | None: ...

    def images_built_by(self, image_builder_arn: str) -> list[Image]: ...

    def get_parameter(self, name: str) -> ParameterRecord | None: ...


class InstanceTypes(Protocol):
    def instance_type_architectures(self, instance_types: list[str]) -> dict[str, tuple[str, ...]]:
        """Each known instance type's supported architectures; an unknown type is left out."""
        ...


class Subnets(Protocol):
    def free_addresses(self, subnet_ids: list[str]) -> dict[str, int]:
        """Each known subnet's free IPv4 addresses; an unknown subnet is left out."""
        ...


class Refreshes(Protocol):
    """Instance refreshes: started, described."""

    def start_instance_refresh(
        self, group: str, strategy: str, desired: AwsItem, preferences: AwsItem
    ) -> str:
        """The new refresh's id; raises :class:`RefreshAlreadyActive`."""
        ...

    def refreshes_of(self, group: str, refresh_ids: list[str] | None = None) -> list[Refresh]:
        """The group's refreshes, newest first."""
        ...


class RefreshStops(Protocol):
    """Rolling back or cancelling a group's active refresh."""

    def rollback_refresh(self, group: str) -> str:
        """The refresh's id; raises :class:`NoActiveRefresh` or :class:`RefreshIrreversible`."""
        ...

    def cancel_refresh(self, group: str) -> str:
        """The refresh's id; raises :class:`NoActiveRefresh`."""
        ...


class Alarms(Protocol):
    def describe_alarms(self, names: list[str]) -> list[Alarm]: ...


class Metrics(Protocol):
    def metric_data(self, queries: list[AwsItem], start: datetime, end: datetime) -> list[MetricResult]: ...


class Executions(Protocol):
    """Step Functions executions of the watcher's state machine."""

    def start_execution(self, state_machine_arn: str, name: str, payload: AwsItem) -> tuple[str, bool]:
        """The execution's ARN, and whether it was started now (False: it already existed)."""
        ...

    def execution(self, state_machine_arn: str, name: str) -> Execution | None: ...


class TaskCallbacks(Protocol):
    """Step Functions' callback API; raises :class:`TaskTokenClosed`."""

    def send_task_success(self, token: str, output: str) -> None: ...

    def send_task_failure(self, token: str, error: str, cause: str) -> None: ...


class Notifier(Protocol):
    def publish(self, topic_arn: str, subject: str, message: AwsItem) -> None: ...


class AuditLog(Protocol):
    """The audit trail as logic reads it (dal/audit.py's ``AuditStore``)."""

    def refresh(self, refresh_id: str) -> dict[str, Any] | None: ...


class DeploymentQueue(Protocol):
    """Deployments waiting for a group (dal/audit.py's ``AuditStore``)."""

    def queue_deployment(self, queued: QueuedDeployment) -> None: ...

    def queued_for(self, group: str) -> list[QueuedDeployment]: ...

    def close_queued(self, queued: QueuedDeployment, status: str, reason: str) -> None: ...


class DeploymentAudit(DeploymentQueue, Protocol):
    """What starting a deployment writes to the audit trail: the deployment and its refreshes,
    and the deployments that wait for a group (dal/audit.py's ``AuditStore``). Logic takes it as
    an argument; the handlers build the store (they are the composition roots)."""

    def record_deployment(self, request: DeployRequest, result: StartResult) -> None: ...


class QueueDrains(Protocol):
    """Asking StartRefresh to start what waits for a group (dal/aws.py: an asynchronous invoke)."""

    def request_drain(self, function: str, drain: QueueDrain) -> None: ...


class QueueFollower(Protocol):
    """What a rollout wave reads of a group's waiting deployment (dal/audit.py's ``AuditStore``)."""

    def queued_item(self, group: str, deployment_id: str) -> dict[str, Any] | None: ...

    def deployment(self, deployment_id: str) -> list[dict[str, Any]]: ...


class ReconcileAudit(AuditLog, Protocol):
    """What the reconciler keeps in the audit table: the refreshes it looks after, its sweep."""

    def unfinished_refreshes(self) -> list[dict[str, Any]]: ...

    def record_sighting(self, group: str, refresh_id: str) -> None: ...

    def mark_finished(self, item: dict[str, Any]) -> None: ...

    def sweep_cursor(self) -> str | None: ...

    def record_sweep_cursor(self, token: str | None) -> None: ...


class AlarmRollbackPorts(TaggedGroups, RefreshStops, Protocol):
    """What the alarm rollback needs."""


class GatePorts(Alarms, Metrics, Protocol):
    """What the watcher's gates read."""


class PreflightPorts(LaunchTemplates, Images, InstanceTypes, Subnets, Protocol):
    """What the pre-flight checks read (logic/preflight.py)."""


class StartPorts(
    GroupDescriptions,
    LaunchTemplates,
    Images,
    InstanceTypes,
    Subnets,
    Refreshes,
    RefreshStops,
    Executions,
    Protocol,
):
    """What starting a deployment needs."""


class ReconcilePorts(TaggedGroups, GroupPages, Refreshes, LaunchTemplates, Executions, Protocol):
    """What the reconciler needs."""
