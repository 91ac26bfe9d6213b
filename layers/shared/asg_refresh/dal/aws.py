"""Every AWS call the product makes, behind one small gateway.

Logic receives an :class:`AwsGateway` as an argument, never a boto3 client: AWS errors are
translated here into the product's errors, and retryable faults are retried here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from asg_refresh.dal.clients import client
from asg_refresh.dal.ports import (
    CLOSED_TASK_CODES,
    AwsItem,
    NoActiveRefresh,
    RefreshAlreadyActive,
    RefreshIrreversible,
    TaskTokenClosed,
)
from asg_refresh.dal.records import (
    Alarm,
    Execution,
    Group,
    GroupInstance,
    Image,
    LaunchOverride,
    LaunchTemplateSpec,
    MetricResult,
    Refresh,
    TemplateVersion,
)
from asg_refresh.dal.retry import RETRYABLE_CODES, call_with_retry, error_code
from asg_refresh.errors import (
    AwsRequestError,
    AwsUnavailableError,
    LimitExceededError,
)
from asg_refresh.models.queue import QueueDrain
from asg_refresh.models.resources import LaunchTemplateRecord, ParameterRecord

__all__ = [
    "CLOSED_TASK_CODES",
    "AwsGateway",
    "AwsItem",
    "NoActiveRefresh",
    "RefreshAlreadyActive",
    "RefreshIrreversible",
    "TaskTokenClosed",
    "alarm_record",
    "dead_letter_sender",
    "group_record",
    "image_record",
    "metric_result_record",
    "refresh_record",
    "spec_record",
]


class AwsGateway:
    def __init__(self, region: str | None = None) -> None:
        self.region = region
        self.calls = 0
        self._calls_lock = threading.Lock()

    def call(self, service: str, operation: str, **params: Any) -> AwsItem:
        """Every AWS call goes through here: retried when retryable, errors translated."""
        method = getattr(client(service, self.region), operation)

        def once() -> AwsItem:
            with self._calls_lock:
                self.calls += 1
            return method(**params)

        try:
            return call_with_retry(once)
        except ClientError as error:
            code = error_code(error)
            message = error.response.get("Error", {}).get("Message", str(error))
            if code in RETRYABLE_CODES:
                raise AwsUnavailableError(
                    f"{service}.{operation} kept failing with {code}", operation=operation
                ) from error
            if code == "LimitExceeded":
                raise LimitExceededError(message, operation=operation) from error
            if code == "InstanceRefreshInProgress":
                raise RefreshAlreadyActive(message) from error
            if code == "ActiveInstanceRefreshNotFound":
                raise NoActiveRefresh(message) from error
            if code == "IrreversibleInstanceRefresh":
                raise RefreshIrreversible(message) from error
            raise AwsRequestError(f"{service}.{operation}: {code}: {message}", aws_code=code) from error

    def _pages(self, service: str, operation: str, key: str, **params: Any) -> Iterator[AwsItem]:
        while True:
            page = self.call(service, operation, **params)
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return
            params["NextToken"] = token

    def account_id(self) -> str:
        return str(self.call("sts", "get_caller_identity")["Account"])

    def caller_arn(self) -> str:
        """Who the credentials in use belong to (an IAM user, or an STS assumed-role session)."""
        return str(self.call("sts", "get_caller_identity")["Arn"])

    # --- Auto Scaling groups -------------------------------------------------------------
    def describe_groups(self, names: list[str]) -> list[Group]:
        found: list[AwsItem] = []
        for start in range(0, len(names), 100):
            chunk = names[start : start + 100]
            found += self._pages(
                "autoscaling",
                "describe_auto_scaling_groups",
                "AutoScalingGroups",
                AutoScalingGroupNames=chunk,
                MaxRecords=100,
            )
        return [group_record(item) for item in found]

    def all_groups(self) -> list[Group]:
        """Every Auto Scaling group of the region (DescribeAutoScalingGroups, paged)."""
        return _groups(
            self._pages("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups", MaxRecords=100)
        )

    def groups_with_tags(self, tags: dict[str, str]) -> list[Group]:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        return _groups(
            self._pages(
                "autoscaling",
                "describe_auto_scaling_groups",
                "AutoScalingGroups",
                Filters=filters,
                MaxRecords=100,
            )
        )

    def tagged_groups_page(
        self, tags: dict[str, str], limit: int, token: str | None
    ) -> tuple[list[Group], str | None]:
        """One page of :meth:`groups_with_tags` (at most ``limit``, 100 at most), from ``token``;
        and the token of the next page (None after the last)."""
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        params: dict[str, Any] = {"Filters": filters, "MaxRecords": min(limit, 100)}
        try:
            page = self.call(
                "autoscaling",
                "describe_auto_scaling_groups",
                **params,
                **({"NextToken": token} if token else {}),
            )
        except AwsRequestError as error:
            # A token kept from an earlier run may name a page that is gone: a sweep must not
            # wedge on it, so it starts again from the first page.
            if not token or error.context.get("aws_code") != "InvalidNextToken":
                raise
            page = self.call("autoscaling", "describe_auto_scaling_groups", **params)
        return _groups(iter(page.get("AutoScalingGroups", []))), page.get("NextToken") or None

    def groups_named(self, names: list[str]) -> list[Group]:
        return self.describe_groups(names) if names else []

    def groups_with_tags_key(self, key: str) -> list[Group]:
        return _groups(
            self._pages(
                "autoscaling",
                "describe_auto_scaling_groups",
                "AutoScalingGroups",
                Filters=[{"Name": "tag-key", "Values": [key]}],
                MaxRecords=100,
            )
        )

    # --- Images and parameters -----------------------------------------------------------
    def describe_image(self, image_id: str) -> Image | None:
        try:
            images = self.call("ec2", "describe_images", ImageIds=[image_id]).get("Images", [])
        except AwsRequestError as error:
            if error.context.get("aws_code") in {"InvalidAMIID.NotFound", "InvalidAMIID.Malformed"}:
                return None
            raise
        return image_record(images[0]) if images else None

    def images_built_by(self, image_builder_arn: str) -> list[Image]:
        filters = [{"Name": "tag:Ec2ImageBuilderArn", "Values": [image_builder_arn]}]
        found = self.call("ec2", "describe_images", Filters=filters).get("Images", [])
        return [image_record(item) for item in found]

    def get_parameter(self, name: str) -> ParameterRecord | None:
        """The parameter, never decrypted: a SecureString's value is not even kept."""
        try:
            found = self.call("ssm", "get_parameter", Name=name, WithDecryption=False)["Parameter"]
        except AwsRequestError as error:
            if error.context.get("aws_code") == "ParameterNotFound":
                return None
            raise
        kind = str(found.get("Type", ""))
        return ParameterRecord(
            name=str(found.get("Name", name)),
            type=kind,
            data_type=found.get("DataType"),
            value=None if kind == "SecureString" else found.get("Value"),
        )

    # --- Instance types and subnets (pre-flight) ------------------------------------------
    def instance_type_architectures(self, instance_types: list[str]) -> dict[str, tuple[str, ...]]:
        """``ProcessorInfo.SupportedArchitectures`` of each instance type EC2 knows, 100 a call;
        a type EC2 does not know is left out."""

        def read(batch: list[str]) -> dict[str, tuple[str, ...]]:
            described = self._pages("ec2", "describe_instance_types", "InstanceTypes", InstanceTypes=batch)
            return {
                str(item["InstanceType"]): tuple(
                    (item.get("ProcessorInfo") or {}).get("SupportedArchitectures", [])
                )
                for item in described
            }

        return _known_only(instance_types, 100, read, "InvalidInstanceType")

    def free_addresses(self, subnet_ids: list[str]) -> dict[str, int]:
        """``AvailableIpAddressCount`` of each subnet EC2 knows, 200 a call; a subnet that is gone
        is left out."""

        def read(batch: list[str]) -> dict[str, int]:
            described = self._pages("ec2", "describe_subnets", "Subnets", SubnetIds=batch)
            return {str(item["SubnetId"]): int(item.get("AvailableIpAddressCount", 0)) for item in described}

        return _known_only(subnet_ids, 200, read, "InvalidSubnetID.NotFound")

    # --- Launch templates ----------------------------------------------------------------
    def describe_launch_templates(self, ids: list[str], names: list[str]) -> list[LaunchTemplateRecord]:
        """The templates with these ids and these names, tags included: one call for up to 200
        of each. (Called with neither, DescribeLaunchTemplates would list every template.)"""
        found: list[AwsItem] = []
        for key, values in (("LaunchTemplateIds", ids), ("LaunchTemplateNames", names)):
            unique = list(dict.fromkeys(values))
            for start in range(0, len(unique), 200):
                found += self._pages(
                    "ec2",
                    "describe_launch_templates",
                    "LaunchTemplates",
                    **{key: unique[start : start + 200]},
                )
        return [
            LaunchTemplateRecord(
                id=item["LaunchTemplateId"],
                name=item["LaunchTemplateName"],
                tags={tag["Key"]: tag.get("Value", "") for tag in item.get("Tags", [])},
                latest_version=item.get("LatestVersionNumber"),
                default_version=item.get("DefaultVersionNumber"),
            )
            for item in found
        ]

    def floating_versions(self) -> list[TemplateVersion]:
        """The ``$Latest`` and ``$Default`` versions of every launch template of the account, whole:
        DescribeLaunchTemplateVersions without a template (which takes those two aliases and no
        numbers), 200 a page. One read tells the start and its pre-flight what every group that
        follows one of them runs: its image and its instance type. Its cost follows the account's
        templates (a page per 200), not the groups started."""
        found = self._pages(
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            Versions=["$Latest", "$Default"],
            MaxResults=200,
        )
        return [template_version_record(item) for item in found]

    def launch_template_version(self, template: LaunchTemplateSpec, version: str) -> AwsItem:
        """DescribeLaunchTemplateVersions' answer for one version (its LaunchTemplateData whole)."""
        selector = _template_selector(template)
        versions = self.call("ec2", "describe_launch_template_versions", Versions=[version], **selector)[
            "LaunchTemplateVersions"
        ]
        return versions[0]

    def template_version(self, template: LaunchTemplateSpec, version: str) -> TemplateVersion:
        """:meth:`launch_template_version` as a record: the version and the image it launches."""
        return template_version_record(self.launch_template_version(template, version))

    def create_launch_template_version(
        self, template: LaunchTemplateSpec, source_version: str, image_id: str, description: str
    ) -> TemplateVersion:
        created = self.call(
            "ec2",
            "create_launch_template_version",
            SourceVersion=source_version,
            VersionDescription=description[:255],
            LaunchTemplateData={"ImageId": image_id},
            **_template_selector(template),
        )
        return template_version_record(created["LaunchTemplateVersion"])

    def delete_launch_template_version(self, template_id: str, version: int) -> None:
        self.call(
            "ec2",
            "delete_launch_template_versions",
            LaunchTemplateId=template_id,
            Versions=[str(version)],
        )

    # --- Instance refresh ----------------------------------------------------------------
    def start_instance_refresh(
        self, group: str, strategy: str, desired: AwsItem, preferences: AwsItem
    ) -> str:
        started = self.call(
            "autoscaling",
            "start_instance_refresh",
            AutoScalingGroupName=group,
            Strategy=strategy,
            DesiredConfiguration=desired,
            Preferences=preferences,
        )
        return str(started["InstanceRefreshId"])

    def describe_refreshes(self, group: str, refresh_ids: list[str] | None = None) -> list[AwsItem]:
        params: dict[str, Any] = {"AutoScalingGroupName": group, "MaxRecords": 100}
        if refresh_ids:
            params["InstanceRefreshIds"] = refresh_ids
        page = self.call("autoscaling", "describe_instance_refreshes", **params)
        return list(page.get("InstanceRefreshes", []))

    def refreshes_of(self, group: str, refresh_ids: list[str] | None = None) -> list[Refresh]:
        """:meth:`describe_refreshes` as records, newest first."""
        return [refresh_record(item) for item in self.describe_refreshes(group, refresh_ids)]

    def rollback_refresh(self, group: str) -> str:
        answer = self.call("autoscaling", "rollback_instance_refresh", AutoScalingGroupName=group)
        return str(answer["InstanceRefreshId"])

    def cancel_refresh(self, group: str) -> str:
        answer = self.call("autoscaling", "cancel_instance_refresh", AutoScalingGroupName=group)
        return str(answer["InstanceRefreshId"])

    # --- CloudWatch ----------------------------------------------------------------------
    def describe_alarms(self, names: list[str]) -> list[Alarm]:
        alarms: list[AwsItem] = []
        for start in range(0, len(names), 100):
            page = self.call(
                "cloudwatch",
                "describe_alarms",
                AlarmNames=names[start : start + 100],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            )
            alarms += page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        return [alarm_record(item) for item in alarms]

    def metric_data(self, queries: list[AwsItem], start: datetime, end: datetime) -> list[MetricResult]:
        """GetMetricData results (newest first), paged."""
        results: dict[str, AwsItem] = {}
        params: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        while True:
            page = self.call("cloudwatch", "get_metric_data", **params)
            for result in page.get("MetricDataResults", []):
                merged = results.setdefault(result["Id"], {"Id": result["Id"], "Values": []})
                merged["Values"] += result.get("Values", [])
            if not page.get("NextToken"):
                return [metric_result_record(item) for item in results.values()]
            params["NextToken"] = page["NextToken"]

    # --- Step Functions and SNS ----------------------------------------------------------
    def request_drain(self, function: str, drain: QueueDrain) -> None:
        """Ask StartRefresh, asynchronously, to start what waits for a group (its own retries and
        dead-letter queue take over from here)."""
        self.call(
            "lambda",
            "invoke",
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps({"start_queued": drain.model_dump(mode="json")}).encode(),
        )

    def start_execution(self, state_machine_arn: str, name: str, payload: AwsItem) -> tuple[str, bool]:
        """Start ``name``; an execution of that name already existing is not an error
        (names are derived from refresh ids, so this is how one refresh gets one watcher)."""
        try:
            started = self.call(
                "stepfunctions",
                "start_execution",
                stateMachineArn=state_machine_arn,
                name=name,
                input=json.dumps(payload, default=str),
            )
        except AwsRequestError as error:
            if error.context.get("aws_code") != "ExecutionAlreadyExists":
                raise
            arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
            return arn, False
        return str(started["executionArn"]), True

    def execution(self, state_machine_arn: str, name: str) -> Execution | None:
        """DescribeExecution of execution ``name`` of the state machine, or None when there is none."""
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        try:
            described = self.call("stepfunctions", "describe_execution", executionArn=arn)
        except AwsRequestError as error:
            if error.context.get("aws_code") == "ExecutionDoesNotExist":
                return None
            raise
        return Execution(name=described["name"], status=described["status"], output=described.get("output"))

    def send_task_success(self, token: str, output: str) -> None:
        self._answer_task("send_task_success", taskToken=token, output=output)

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        self._answer_task("send_task_failure", taskToken=token, error=error, cause=cause)

    def _answer_task(self, operation: str, **params: Any) -> None:
        try:
            self.call("stepfunctions", operation, **params)
        except AwsRequestError as failed:
            code = str(failed.context.get("aws_code", ""))
            if code in CLOSED_TASK_CODES:
                raise TaskTokenClosed(code, failed.message) from failed
            raise

    def publish(self, topic_arn: str, subject: str, message: AwsItem) -> None:
        self.call(
            "sns",
            "publish",
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, default=str),
        )


V = TypeVar("V")


def _known_only(
    names: list[str], per_call: int, read: Callable[[list[str]], dict[str, V]], unknown_code: str
) -> dict[str, V]:
    """``read`` of every name, ``per_call`` at a time. AWS refuses a whole call for one name it
    does not know (``unknown_code``), so such a batch is asked again one name at a time, and the
    unknown names are left out."""
    found: dict[str, V] = {}
    unique = list(dict.fromkeys(names))
    for start in range(0, len(unique), per_call):
        batch = unique[start : start + per_call]
        try:
            found |= read(batch)
            continue
        except AwsRequestError as error:
            if error.context.get("aws_code") != unknown_code:
                raise
        for one in batch if len(batch) > 1 else []:
            try:
                found |= read([one])
            except AwsRequestError as error:
                if error.context.get("aws_code") != unknown_code:
                    raise
    return found


# --- AWS's answers as records (the fakes under tests/ build theirs with these too) -----------
def _groups(described: Iterator[AwsItem]) -> list[Group]:
    return [group_record(item) for item in described]


def spec_record(spec: AwsItem | None) -> LaunchTemplateSpec | None:
    """A ``LaunchTemplateSpecification`` (or an instance's ``LaunchTemplate``), None when empty."""
    if not spec:
        return None
    version = spec.get("Version")
    return LaunchTemplateSpec(
        id=spec.get("LaunchTemplateId") or None,
        name=spec.get("LaunchTemplateName") or None,
        version=None if version is None else str(version),
    )


def own_template(configuration: AwsItem) -> LaunchTemplateSpec | None:
    """The launch template of a group or a desired configuration: ``LaunchTemplate``, or the
    one inside its ``MixedInstancesPolicy``."""
    if configuration.get("LaunchTemplate"):
        return spec_record(configuration["LaunchTemplate"])
    mixed = configuration.get("MixedInstancesPolicy") or {}
    return spec_record((mixed.get("LaunchTemplate") or {}).get("LaunchTemplateSpecification"))


def group_record(item: AwsItem) -> Group:
    """One of DescribeAutoScalingGroups' ``AutoScalingGroups``."""
    mixed = item.get("MixedInstancesPolicy") or None
    overrides = ((mixed or {}).get("LaunchTemplate") or {}).get("Overrides") or []
    return Group(
        name=item["AutoScalingGroupName"],
        tags={tag["Key"]: tag.get("Value", "") for tag in item.get("Tags", [])},
        launch_template=own_template(item),
        override_templates=tuple(
            spec
            for override in overrides
            if (spec := spec_record(override.get("LaunchTemplateSpecification"))) is not None
        ),
        mixed_instances_policy=mixed,
        launch_overrides=tuple(
            LaunchOverride(
                instance_type=override.get("InstanceType") or None,
                instance_requirements=bool(override.get("InstanceRequirements")),
                launch_template=spec_record(override.get("LaunchTemplateSpecification")),
            )
            for override in overrides
        ),
        instances=tuple(
            GroupInstance(
                id=instance["InstanceId"],
                lifecycle_state=instance.get("LifecycleState"),
                health_status=instance.get("HealthStatus"),
                protected_from_scale_in=instance.get("ProtectedFromScaleIn"),
                launch_template=spec_record(instance.get("LaunchTemplate")),
            )
            for instance in item.get("Instances", [])
        ),
        desired_capacity=int(item.get("DesiredCapacity", 0)),
        min_size=item.get("MinSize"),
        max_size=item.get("MaxSize"),
        default_instance_warmup=item.get("DefaultInstanceWarmup"),
        health_check_grace_period=item.get("HealthCheckGracePeriod"),
        subnet_ids=tuple(s.strip() for s in (item.get("VPCZoneIdentifier") or "").split(",") if s.strip()),
    )


def refresh_record(item: AwsItem) -> Refresh:
    """One of DescribeInstanceRefreshes' ``InstanceRefreshes``."""
    desired = item.get("DesiredConfiguration") or {}
    return Refresh(
        id=item["InstanceRefreshId"],
        status=item["Status"],
        target_template=own_template(desired),
        desired_configuration=desired,
        preferences=item.get("Preferences") or {},
    )


def alarm_record(item: AwsItem) -> Alarm:
    """One of DescribeAlarms' ``MetricAlarms`` or ``CompositeAlarms``."""
    return Alarm(name=item["AlarmName"], state=item["StateValue"], reason=item.get("StateReason"))


def metric_result_record(item: AwsItem) -> MetricResult:
    """One of GetMetricData's ``MetricDataResults``."""
    return MetricResult(id=item["Id"], values=tuple(float(v) for v in item.get("Values", [])))


def image_record(item: AwsItem) -> Image:
    """One of DescribeImages' ``Images``."""
    return Image(
        id=item["ImageId"],
        state=item.get("State"),
        owner_id=item.get("OwnerId"),
        creation_date=str(item.get("CreationDate", "")),
        architecture=item.get("Architecture") or None,
    )


def template_version_record(item: AwsItem) -> TemplateVersion:
    """A ``LaunchTemplateVersion``: the version, the image it launches and its instance type."""
    data = item.get("LaunchTemplateData") or {}
    return TemplateVersion(
        template_id=item["LaunchTemplateId"],
        version=item["VersionNumber"],
        image_id=data.get("ImageId", "") or "",
        instance_type=data.get("InstanceType") or None,
        instance_requirements=bool(data.get("InstanceRequirements")),
    )


def _template_selector(template: LaunchTemplateSpec) -> dict[str, str]:
    if template.id:
        return {"LaunchTemplateId": template.id}
    return {"LaunchTemplateName": str(template.name)}


def dead_letter_sender(
    aws: AwsGateway, queue_url: str | None
) -> Callable[[str, dict[str, str]], None] | None:
    """A function that puts a failed event on ``queue_url`` with its error as attributes."""
    if not queue_url:
        return None

    def send(body: str, attributes: dict[str, str]) -> None:
        aws.call(
            "sqs",
            "send_message",
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    return send
