"""An in-memory AWS behind the ports: groups, refreshes, launch templates, executions.

It behaves as AWS does where logic depends on it: one active refresh per group (a second start
raises RefreshAlreadyActive, as InstanceRefreshInProgress), rollback and cancel only of an
active refresh (NoActiveRefresh otherwise), rollback refused for an irreversible one, and an
execution name used once per state machine. Every write is recorded for the tests to assert.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asg_refresh.dal.aws import refresh_record
from asg_refresh.dal.ports import (
    AwsItem,
    NoActiveRefresh,
    RefreshAlreadyActive,
    RefreshIrreversible,
)
from asg_refresh.dal.records import (
    ACTIVE_REFRESH_STATUSES,
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
from asg_refresh.models.queue import QueuedDeployment
from asg_refresh.models.resources import LaunchTemplateRecord, ParameterRecord
from asg_refresh.models.results import StartResult


@dataclass
class FakeAws:
    groups: dict[str, Group] = field(default_factory=dict)
    #: Per group, its refreshes as DescribeInstanceRefreshes lists them (newest first).
    refreshes: dict[str, list[AwsItem]] = field(default_factory=dict)
    #: Groups whose active refresh cannot be rolled back (IrreversibleInstanceRefresh).
    irreversible: set[str] = field(default_factory=set)
    #: Per launch template id, its versions' images (version 1 is $Default).
    templates: dict[str, dict[int, str]] = field(default_factory=dict)
    #: The launch templates as DescribeLaunchTemplates describes them (with their tags), where a
    #: test names them; any other template in ``templates`` is described from template_tags.
    template_records: list[LaunchTemplateRecord] = field(default_factory=list)
    #: Per launch template id, its tags when it has no record; its name is then its id.
    template_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Every read of one version (DescribeLaunchTemplateVersions of one template), and of the
    #: account's $Latest/$Default versions on an image.
    version_reads: list[tuple[str, str]] = field(default_factory=list)
    bulk_version_reads: list[str] = field(default_factory=list)
    #: The AMIs DescribeImages knows.
    images: dict[str, Image] = field(default_factory=dict)
    #: Per launch template id, the instance type every version names (none when absent).
    template_instance_types: dict[str, str] = field(default_factory=dict)
    #: Templates DescribeLaunchTemplates finds though ``templates`` has no versions of them.
    launch_template_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    #: DescribeSubnets' AvailableIpAddressCount, by subnet id.
    subnets: dict[str, int] = field(default_factory=dict)
    #: DescribeInstanceTypes' SupportedArchitectures, by instance type.
    instance_types: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"t3.micro": ("x86_64",), "m5.large": ("x86_64",), "m7g.large": ("arm64",)}
    )
    created_versions: list[tuple[str, int, str]] = field(default_factory=list)
    deleted_versions: list[tuple[str, int]] = field(default_factory=list)
    #: Called by start_instance_refresh before it starts anything: a test's concurrent actor.
    before_start: Callable[[str], None] | None = None
    executions: dict[str, Execution] = field(default_factory=dict)
    started_executions: list[tuple[str, AwsItem]] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    #: Per group, how many times its refreshes were described (the sweep's cost).
    described: dict[str, int] = field(default_factory=dict)
    pages_read: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- setup helpers ---------------------------------------------------------------------
    def add_group(self, name: str, **tags: str) -> Group:
        group = Group(name=name, tags=dict(tags))
        self.groups[name] = group
        self.refreshes.setdefault(name, [])
        return group

    def add_refresh(self, group: str, status: str = "InProgress", **fields: Any) -> str:
        refresh_id = f"r-{next(self._ids)}"
        self.refreshes.setdefault(group, []).insert(
            0, {"InstanceRefreshId": refresh_id, "AutoScalingGroupName": group, "Status": status, **fields}
        )
        return refresh_id

    def _active(self, group: str) -> AwsItem | None:
        return next(
            (r for r in self.refreshes.get(group, []) if r["Status"] in ACTIVE_REFRESH_STATUSES), None
        )

    # --- TaggedGroups ----------------------------------------------------------------------
    def groups_with_tags(self, tags: dict[str, str]) -> list[Group]:
        return [g for g in self.groups.values() if all(g.tags.get(k) == v for k, v in tags.items())]

    def groups_with_tags_key(self, key: str) -> list[Group]:
        return [g for g in self.groups.values() if key in g.tags]

    def tagged_groups_page(
        self, tags: dict[str, str], limit: int, token: str | None
    ) -> tuple[list[Group], str | None]:
        """Pages in name order; the token is the last name of the page before (as moto's)."""
        tagged = sorted(self.groups_with_tags(tags), key=lambda g: g.name)
        rest = [g for g in tagged if token is None or g.name > token]
        page = rest[:limit]
        self.pages_read += 1
        return page, (page[-1].name if len(rest) > limit else None)

    def groups_named(self, names: list[str]) -> list[Group]:
        return [self.groups[name] for name in names if name in self.groups]

    # --- Refreshes and RefreshStops --------------------------------------------------------
    def start_instance_refresh(
        self, group: str, strategy: str, desired: AwsItem, preferences: AwsItem
    ) -> str:
        if self.before_start:
            self.before_start(group)
        if self._active(group):
            raise RefreshAlreadyActive(f"An Instance Refresh is already in progress for {group}")
        return self.add_refresh(
            group, "Pending", Strategy=strategy, DesiredConfiguration=desired, Preferences=preferences
        )

    def describe_refreshes(self, group: str, refresh_ids: list[str] | None = None) -> list[AwsItem]:
        self.described[group] = self.described.get(group, 0) + 1
        found = self.refreshes.get(group, [])
        return [dict(r) for r in found if not refresh_ids or r["InstanceRefreshId"] in refresh_ids]

    def refreshes_of(self, group: str, refresh_ids: list[str] | None = None) -> list[Refresh]:
        return [refresh_record(r) for r in self.describe_refreshes(group, refresh_ids)]

    def rollback_refresh(self, group: str) -> str:
        active = self._active(group)
        if active is None:
            raise NoActiveRefresh(f"No active refresh for {group}")
        if group in self.irreversible:
            raise RefreshIrreversible("the desired configuration has no previous one to return to")
        active["Status"] = "RollbackInProgress"
        self.rolled_back.append(group)
        return str(active["InstanceRefreshId"])

    def cancel_refresh(self, group: str) -> str:
        active = self._active(group)
        if active is None:
            raise NoActiveRefresh(f"No active refresh for {group}")
        active["Status"] = "Cancelling"
        self.cancelled.append(group)
        return str(active["InstanceRefreshId"])

    # --- LaunchTemplates -------------------------------------------------------------------
    def describe_launch_templates(self, ids: list[str], names: list[str]) -> list[LaunchTemplateRecord]:
        named = {t.id: t for t in self.template_records}
        found = []
        for template_id in dict.fromkeys([*self.templates, *self.launch_template_tags]):
            versions = self.templates.get(template_id) or {1: ""}
            tags = self.template_tags.get(template_id) or self.launch_template_tags.get(template_id, {})
            record = named.get(template_id) or LaunchTemplateRecord(
                id=template_id, name=template_id, tags=tags
            )
            if record.id in ids or record.name in names:
                numbers = {"latest_version": max(versions), "default_version": 1}
                update = {key: getattr(record, key) or value for key, value in numbers.items()}
                found.append(record.model_copy(update=update))
        return found

    def template_version(self, template: LaunchTemplateSpec, version: str) -> TemplateVersion:
        template_id = str(template.id)
        self.version_reads.append((template_id, version))
        versions = self.templates[template_id]
        number = {"$Latest": max(versions), "$Default": 1}.get(version) or int(version)
        return TemplateVersion(
            template_id=template_id,
            version=number,
            image_id=versions[number],
            instance_type=self.template_instance_types.get(template_id),
        )

    def floating_versions(self) -> list[TemplateVersion]:
        self.bulk_version_reads.append("$Latest,$Default")
        return [
            TemplateVersion(
                template_id=template_id,
                version=number,
                image_id=versions[number],
                instance_type=self.template_instance_types.get(template_id),
            )
            for template_id, versions in self.templates.items()
            for number in sorted({max(versions), 1})
        ]

    def create_launch_template_version(
        self, template: LaunchTemplateSpec, source_version: str, image_id: str, description: str
    ) -> TemplateVersion:
        template_id = str(template.id)
        versions = self.templates[template_id]
        # As on AWS, a deleted version's number is never given again.
        deleted = [v for t, v in self.deleted_versions if t == template_id]
        number = max([*versions, *deleted]) + 1
        versions[number] = image_id
        self.created_versions.append((template_id, number, image_id))
        return TemplateVersion(template_id=template_id, version=number, image_id=image_id)

    def delete_launch_template_version(self, template_id: str, version: int) -> None:
        del self.templates[template_id][version]
        self.deleted_versions.append((template_id, version))

    # --- Executions ------------------------------------------------------------------------
    def start_execution(self, state_machine_arn: str, name: str, payload: AwsItem) -> tuple[str, bool]:
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        if name in self.executions:
            return arn, False
        self.executions[name] = Execution(name=name, status="RUNNING")
        self.started_executions.append((name, payload))
        return arn, True

    def execution(self, state_machine_arn: str, name: str) -> Execution | None:
        return self.executions.get(name)

    # --- Group descriptions, images, alarms, metrics (little used by the tests so far) ------
    def describe_groups(self, names: list[str]) -> list[Group]:
        return [self.groups[name] for name in names if name in self.groups]

    def all_groups(self) -> list[Group]:
        return list(self.groups.values())

    def account_id(self) -> str:
        return "123456789012"

    def describe_image(self, image_id: str) -> Image | None:
        return self.images.get(image_id)

    def free_addresses(self, subnet_ids: list[str]) -> dict[str, int]:
        return {s: self.subnets[s] for s in subnet_ids if s in self.subnets}

    def instance_type_architectures(self, instance_types: list[str]) -> dict[str, tuple[str, ...]]:
        return {t: self.instance_types[t] for t in instance_types if t in self.instance_types}

    def images_built_by(self, image_builder_arn: str) -> list[Image]:
        return []

    def describe_alarms(self, names: list[str]) -> list[Alarm]:
        return []

    def metric_data(self, queries: list[AwsItem], start: datetime, end: datetime) -> list[MetricResult]:
        return []

    def get_parameter(self, name: str) -> ParameterRecord | None:
        return None


@dataclass
class FakeAudit:
    """The audit log's refresh items, by refresh id; the reconciler's sightings and sweep cursor;
    the deployments recorded, and those waiting for a group (the ``DeploymentAudit`` port).

    An item is unfinished while it has ``unfinished`` (as the table's sparse index)."""

    refreshes: dict[str, dict[str, Any]] = field(default_factory=dict)
    sightings: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor: str | None = None
    #: Per deployment id, its item as AuditStore.record_deployment writes it.
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per waiting deployment id, the deployment and how it stands: Queued, or how it ended.
    queued: dict[str, QueuedDeployment] = field(default_factory=dict)
    queue_status: dict[str, tuple[str, str]] = field(default_factory=dict)

    # --- DeploymentAudit -------------------------------------------------------------------
    def record_deployment(self, request: DeployRequest, result: StartResult) -> None:
        self.deployments[result.id] = {
            "deployment_id": result.id,
            "request": request.model_dump(mode="json", exclude_none=True),
            "groups": [r.group for r in result.refreshes],
            "skipped": [s.model_dump() for s in result.skipped],
            "queued": [q.model_dump() for q in result.queued],
        }
        for refresh in result.refreshes:
            self.refreshes[refresh.refresh_id] = {
                "deployment_id": result.id,
                "item": f"refresh#{refresh.group}#{refresh.refresh_id}",
                **refresh.model_dump(mode="json"),
                "status": "Started",
                "unfinished": "refresh",
            }

    def queue_deployment(self, queued: QueuedDeployment) -> None:
        # One item per waiting deployment: queued again, it is the same item, waiting anew.
        self.queued[queued.request.deployment_id] = queued
        self.queue_status[queued.request.deployment_id] = ("Queued", "")

    def queued_for(self, group: str) -> list[QueuedDeployment]:
        waiting = [
            q for key, q in self.queued.items() if q.group == group and self.queue_status[key][0] == "Queued"
        ]
        return sorted(waiting, key=lambda queued: queued.queued_at)

    def close_queued(self, queued: QueuedDeployment, status: str, reason: str) -> None:
        self.queue_status[queued.request.deployment_id] = (status, reason)

    # --- AuditLog and ReconcileAudit -------------------------------------------------------

    def refresh(self, refresh_id: str) -> dict[str, Any] | None:
        return self.refreshes.get(refresh_id)

    def unfinished_refreshes(self) -> list[dict[str, Any]]:
        items = [*self.refreshes.values(), *self.sightings.values()]
        return [dict(item) for item in items if item.get("unfinished")]

    def record_sighting(self, group: str, refresh_id: str) -> None:
        self.sightings.setdefault(
            refresh_id,
            {
                "deployment_id": f"sighting#{refresh_id}",
                "item": "sighting",
                "group": group,
                "refresh_id": refresh_id,
                "unfinished": "refresh",
            },
        )

    def mark_finished(self, item: dict[str, Any]) -> None:
        store = self.sightings if item["item"] == "sighting" else self.refreshes
        store[str(item["refresh_id"])].pop("unfinished", None)

    def sweep_cursor(self) -> str | None:
        return self.cursor

    def record_sweep_cursor(self, token: str | None) -> None:
        self.cursor = token
