"""The only module that reaches into moto's Auto Scaling, EC2 and CloudWatch internals."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.autoscaling.models import InstanceState
from moto.cloudwatch.models import cloudwatch_backends
from moto.ec2.exceptions import (
    InvalidLaunchTemplateIdNotFound,
    InvalidLaunchTemplateNameNotFoundWithNameError,
    InvalidLaunchTemplateVersionNotFound,
)

from .errors import ValidationError
from .models import GroupConfig, InstanceConfig, TargetConfig

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.launch_templates import LaunchTemplate

ASG_NAME_TAG = "aws:autoscaling:groupName"


def find_launch_template(ec2: EC2Backend, spec: dict[str, Any]) -> LaunchTemplate:
    template_id, name = spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
    if not template_id and not name:
        raise ValidationError("Valid requests must contain either launchTemplateId or LaunchTemplateName")
    try:
        template = (
            ec2.get_launch_template(template_id)
            if template_id
            else ec2.get_launch_template_by_name(str(name))
        )
    except (InvalidLaunchTemplateIdNotFound, InvalidLaunchTemplateNameNotFoundWithNameError) as err:
        raise ValidationError(
            f"You must use a valid fully-formed launch template. {getattr(err, 'message', err)}"
        ) from err
    # DescribeAutoScalingGroups shows both id and name in a MixedInstancesPolicy, and callers copy
    # it back: accept both when they agree.
    if template_id and name and template.name != name:
        raise ValidationError("Valid requests must contain either launchTemplateId or LaunchTemplateName")
    return template


def resolve_target(
    ec2: EC2Backend, launch_template: dict[str, Any] | None, mixed: dict[str, Any] | None
) -> TargetConfig:
    """Resolve a LaunchTemplate or MixedInstancesPolicy to a numbered version and instance types."""
    overrides: list[dict[str, Any]] = []
    if mixed:
        lt_block = mixed.get("LaunchTemplate") or {}
        spec = lt_block.get("LaunchTemplateSpecification") or {}
        overrides = lt_block.get("Overrides") or []
    elif launch_template:
        spec = launch_template
    else:
        raise ValidationError("The group has no launch template to refresh instances with.")
    template = find_launch_template(ec2, spec)
    try:
        version = template.get_version(spec.get("Version") or "$Default")
    except (InvalidLaunchTemplateVersionNotFound, ValueError) as err:
        raise ValidationError(
            f"The specified launch template version {spec.get('Version')} does not exist "
            f"for launch template {template.id}."
        ) from err
    types = tuple(o["InstanceType"] for o in overrides if o.get("InstanceType"))
    return TargetConfig(
        launch_template_id=template.id,
        launch_template_name=template.name,
        version=version.number,
        image_id=version.image_id,
        instance_types=types or (version.instance_type or "t2.micro",),
    )


def version_image_id(ec2: EC2Backend, spec: dict[str, Any]) -> str:
    return find_launch_template(ec2, spec).get_version(spec.get("Version") or "$Default").image_id


def group_config(group: FakeAutoScalingGroup) -> GroupConfig:
    lt = None
    if group.ec2_launch_template is not None and not group.mixed_instances_policy:
        lt = {"LaunchTemplateId": group.ec2_launch_template.id}
        version = getattr(group, "provided_launch_template_version", None)
        if version:
            lt["Version"] = version
    return GroupConfig(lt, copy.deepcopy(group.mixed_instances_policy))


def group_target(group: FakeAutoScalingGroup) -> TargetConfig:
    config = group_config(group)
    return resolve_target(group.ec2_backend, config.launch_template, config.mixed_instances_policy)


def apply_group_config(group: FakeAutoScalingGroup, config: GroupConfig) -> None:
    """Point the group at a configuration, as UpdateAutoScalingGroup would."""
    mixed = copy.deepcopy(config.mixed_instances_policy)
    spec = ((mixed or {}).get("LaunchTemplate") or {}).get("LaunchTemplateSpecification")
    if spec and spec.get("LaunchTemplateId"):
        spec.pop("LaunchTemplateName", None)  # moto insists on exactly one of the two
    group.mixed_instances_policy = mixed
    launch_template = dict(config.launch_template or {})
    if launch_template.get("LaunchTemplateId"):
        launch_template.pop("LaunchTemplateName", None)
    group._set_launch_configuration("", launch_template, group.mixed_instances_policy)
    if config.launch_template is not None:
        group.provided_launch_template_version = config.launch_template.get("Version")


def observed_config(instance_state: InstanceState) -> InstanceConfig:
    """An instance the emulation did not launch: read what EC2 recorded at launch."""
    instance = instance_state.instance
    tags = {t["key"]: t["value"] for t in instance.get_tags()} if hasattr(instance, "get_tags") else {}
    group = instance_state.auto_scaling_group
    template = group.ec2_launch_template
    template_id = tags.get("aws:ec2launchtemplate:id") or (template.id if template else "")
    version = int(tags.get("aws:ec2launchtemplate:version") or 0)
    name = template.name if template is not None and template.id == template_id else ""
    return InstanceConfig(template_id, name, version, instance.image_id, instance.instance_type)


def launch(
    group: FakeAutoScalingGroup,
    config: InstanceConfig,
    count: int,
    launched_at: datetime,
    lifecycle_state: str = "Pending",
) -> list[InstanceState]:
    """Run ``count`` instances of ``config`` in EC2 and attach them to the group, launched at
    ``launched_at`` on the clock the refresh runs on (EC2's LaunchTime)."""
    tags = group.get_propagated_tags()
    tags[ASG_NAME_TAG] = group.name
    template = group.ec2_backend.get_launch_template(config.launch_template_id)
    version = template.get_version(config.version)
    tags.update(version.instance_tags)
    subnet_id = group.vpc_zone_identifier.split(",")[0] if group.vpc_zone_identifier else None
    reservation = group.ec2_backend.run_instances(
        config.image_id,
        count,
        version.user_data,
        version.security_groups,
        instance_type=config.instance_type,
        tags={"instance": tags},
        placement=random.choice(group.availability_zones),
        launch_template={"LaunchTemplateId": config.launch_template_id, "Version": str(config.version)},
        is_instance_type_default=False,
        subnet_id=subnet_id,
    )
    states = []
    for instance in reservation.instances:
        instance.autoscaling_group = group  # type: ignore[attr-defined]
        instance.launch_time = launched_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)  # naive UTC
        state = InstanceState(
            instance,
            lifecycle_state=lifecycle_state,
            protected_from_scale_in=group.new_instances_protected_from_scale_in,
        )
        group.instance_states.append(state)
        states.append(state)
    return states


def terminate(group: FakeAutoScalingGroup, instance_ids: list[str]) -> None:
    if not instance_ids:
        return
    gone = set(instance_ids)
    group.instance_states = [s for s in group.instance_states if s.instance.id not in gone]
    existing = [i for i in instance_ids if i in _ec2_instance_ids(group.ec2_backend, gone)]
    if existing:
        group.ec2_backend.terminate_instances(existing)


def _ec2_instance_ids(ec2: EC2Backend, wanted: set[str]) -> set[str]:
    found = set()
    for reservation in ec2.reservations.values():
        for instance in reservation.instances:
            if instance.id in wanted:
                found.add(instance.id)
    return found


def states_by_id(group: FakeAutoScalingGroup) -> dict[str, InstanceState]:
    return {s.instance.id: s for s in group.instance_states}


def alarms_in_alarm(account_id: str, region: str, names: list[str]) -> list[str]:
    """Names of the given CloudWatch alarms whose state is ALARM (unknown alarms are ignored)."""
    if not names:
        return []
    alarms = cloudwatch_backends[account_id][region].alarms
    return [n for n in names if n in alarms and alarms[n].state_value == "ALARM"]
