"""Seed a local AWS (in-process moto or the local server) with AMIs, groups and alarms.

Used by the tests, the demo and ``asg-refresh local serve --seed``: one place that knows how a
realistic opted-in fleet looks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

OPT_IN_TAG = ("asg-refresh:enabled", "true")
ALARM_TAG_KEY = "asg-refresh:alarms"
ClientFactory = Callable[[str], Any]


@dataclass
class Fleet:
    client: ClientFactory
    created_groups: list[str] = field(default_factory=list)

    def image(
        self,
        name: str,
        builder_arn: str | None = None,
        tags: dict[str, str] | None = None,
        architecture: str = "x86_64",
    ) -> str:
        """Register an available AMI owned by this account (optionally as Image Builder made it),
        for ``architecture`` (the fleet's instance types, t3.micro, are x86_64)."""
        ec2 = self.client("ec2")
        image_id = str(
            ec2.register_image(Name=name, RootDeviceName="/dev/xvda", Architecture=architecture)["ImageId"]
        )
        all_tags = dict(tags or {})
        if builder_arn:
            all_tags |= {"Ec2ImageBuilderArn": builder_arn, "CreatedBy": "EC2 Image Builder"}
        if all_tags:
            ec2.create_tags(Resources=[image_id], Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])
        return image_id

    def foreign_image(self) -> str:
        """An available AMI owned by another account (moto ships Amazon's)."""
        images = self.client("ec2").describe_images(Owners=["amazon"])["Images"]
        return str(next(i["ImageId"] for i in images if i.get("State") == "available"))

    def group(
        self,
        name: str,
        image_id: str,
        size: int = 4,
        *,
        opted_in: bool = True,
        alarms: Iterable[str] = (),
        version: str = "1",
        mixed_instance_types: list[str] | None = None,
        tags: dict[str, str] | None = None,
        warmup: int = 60,
        template_opted_in: bool | None = None,
        shares: str | None = None,
        by_name: bool = False,
        max_size: int | None = None,
        instance_type: str = "t3.micro",
        subnet_id: str | None = None,
    ) -> dict[str, Any]:
        """A group on its own launch template ``<name>-lt``, tagged with the opt-in tag when the
        group is (``template_opted_in`` overrides that), or on the launch template of the group
        ``shares`` names. ``version`` may be ``$Latest``/``$Default``; ``by_name`` refers to the
        template by name instead of id."""
        ec2, autoscaling = self.client("ec2"), self.client("autoscaling")
        tagged = opted_in if template_opted_in is None else template_opted_in
        template = _launch_template(
            ec2, name, image_id, shares=shares, tagged=tagged, instance_type=instance_type
        )
        spec = (
            {"LaunchTemplateName": template["LaunchTemplateName"], "Version": version}
            if by_name
            else {"LaunchTemplateId": template["LaunchTemplateId"], "Version": version}
        )
        all_tags = dict(tags or {})
        if opted_in:
            all_tags[OPT_IN_TAG[0]] = OPT_IN_TAG[1]
        if alarms:
            all_tags[ALARM_TAG_KEY] = ",".join(alarms)
        subnet = subnet_id or ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        placement = _placement(spec, mixed_instance_types)
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            MinSize=0,
            MaxSize=max(size * 2, 1) if max_size is None else max_size,
            DesiredCapacity=size,
            VPCZoneIdentifier=subnet,
            DefaultInstanceWarmup=warmup,
            Tags=[_group_tag(name, k, v) for k, v in all_tags.items()],
            **placement,
        )
        self.created_groups.append(name)
        return {"name": name, "launch_template_id": template["LaunchTemplateId"]}

    def alarm(self, name: str, state: str = "OK") -> str:
        cloudwatch = self.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )
        self.set_alarm(name, state)
        return name

    def composite_alarm(self, name: str, rule: str) -> str:
        """A composite alarm over alarms that exist already (its state follows theirs)."""
        self.client("cloudwatch").put_composite_alarm(AlarmName=name, AlarmRule=rule)
        return name

    def set_alarm(self, name: str, state: str, reason: str = "set by the local fleet") -> None:
        self.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def instance_images(self, group: str) -> list[str]:
        """The image id of every in-service instance of ``group``."""
        described = self.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        ids = [i["InstanceId"] for i in described["AutoScalingGroups"][0]["Instances"]]
        if not ids:
            return []
        reservations = self.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        return [i["ImageId"] for r in reservations for i in r["Instances"]]

    def refreshes(self, group: str) -> list[dict[str, Any]]:
        answer = self.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=group)
        return list(answer["InstanceRefreshes"])

    def launch_template_versions(self, group: str) -> list[dict[str, Any]]:
        """The versions of the launch template ``group`` created (``<group>-lt``)."""
        answer = self.client("ec2").describe_launch_template_versions(LaunchTemplateName=f"{group}-lt")
        return sorted(answer["LaunchTemplateVersions"], key=lambda v: v["VersionNumber"])


def _group_tag(group: str, key: str, value: str) -> dict[str, Any]:
    return {
        "Key": key,
        "Value": value,
        "PropagateAtLaunch": False,
        "ResourceId": group,
        "ResourceType": "auto-scaling-group",
    }


def _launch_template(
    ec2: Any, name: str, image_id: str, *, shares: str | None, tagged: bool, instance_type: str = "t3.micro"
) -> Any:
    """The group's own new launch template ``<name>-lt``, or that of the group ``shares`` names."""
    if shares:
        named = [f"{shares}-lt"]
        return ec2.describe_launch_templates(LaunchTemplateNames=named)["LaunchTemplates"][0]
    opt_in = [{"ResourceType": "launch-template", "Tags": [{"Key": OPT_IN_TAG[0], "Value": OPT_IN_TAG[1]}]}]
    return ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": instance_type},
        TagSpecifications=opt_in if tagged else [],
    )["LaunchTemplate"]


def _placement(spec: dict[str, Any], mixed_instance_types: list[str] | None) -> dict[str, Any]:
    """CreateAutoScalingGroup's launch template arguments: the template, or a mixed instances policy."""
    if not mixed_instance_types:
        return {"LaunchTemplate": spec}
    return {
        "MixedInstancesPolicy": {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": spec,
                "Overrides": [{"InstanceType": t} for t in mixed_instance_types],
            },
            "InstancesDistribution": {"OnDemandBaseCapacity": 1},
        }
    }
