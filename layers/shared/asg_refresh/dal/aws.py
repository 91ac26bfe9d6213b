"""Every AWS call the product makes, behind one small gateway.

Logic receives an :class:`AwsGateway` as an argument, never a boto3 client: AWS errors are
translated here into the product's errors, and retryable faults are retried here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

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
from asg_refresh.dal.records import Execution, Group, TemplateVersion
from asg_refresh.dal.retry import RETRYABLE_CODES, call_with_retry, error_code
from asg_refresh.errors import (
    AwsRequestError,
    AwsUnavailableError,
    LimitExceededError,
)
from asg_refresh.models.resources import LaunchTemplateRecord, ParameterRecord

__all__ = [
    "CLOSED_TASK_CODES",
    "AwsGateway",
    "AwsItem",
    "NoActiveRefresh",
    "RefreshAlreadyActive",
    "RefreshIrreversible",
    "TaskTokenClosed",
    "dead_letter_sender",
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
    def describe_groups(self, names: list[str]) -> list[AwsItem]:
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
        return found

    def all_groups(self) -> list[AwsItem]:
        """Every Auto Scaling group of the region (DescribeAutoScalingGroups, paged)."""
        return list(
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
        return _groups(iter(self.describe_groups(names))) if names else []

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
    def describe_image(self, image_id: str) -> AwsItem | None:
        try:
            images = self.call("ec2", "describe_images", ImageIds=[image_id]).get("Images", [])
        except AwsRequestError as error:
            if error.context.get("aws_code") in {"InvalidAMIID.NotFound", "InvalidAMIID.Malformed"}:
                return None
            raise
        return images[0] if images else None

    def images_built_by(self, image_builder_arn: str) -> list[AwsItem]:
        filters = [{"Name": "tag:Ec2ImageBuilderArn", "Values": [image_builder_arn]}]
        return list(self.call("ec2", "describe_images", Filters=filters).get("Images", []))

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
            )
            for item in found
        ]

    def launch_template_version(self, template: AwsItem, version: str) -> AwsItem:
        selector = _template_selector(template)
        versions = self.call("ec2", "describe_launch_template_versions", Versions=[version], **selector)[
            "LaunchTemplateVersions"
        ]
        return versions[0]

    def template_version(self, template: AwsItem, version: str) -> TemplateVersion:
        """:meth:`launch_template_version` as a record: the version and the image it launches."""
        found = self.launch_template_version(template, version)
        return TemplateVersion(
            template_id=found["LaunchTemplateId"],
            version=found["VersionNumber"],
            image_id=found["LaunchTemplateData"].get("ImageId", ""),
        )

    def create_launch_template_version(
        self, template: AwsItem, source_version: str, image_id: str, description: str
    ) -> AwsItem:
        created = self.call(
            "ec2",
            "create_launch_template_version",
            SourceVersion=source_version,
            VersionDescription=description[:255],
            LaunchTemplateData={"ImageId": image_id},
            **_template_selector(template),
        )
        return created["LaunchTemplateVersion"]

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

    def rollback_refresh(self, group: str) -> str:
        answer = self.call("autoscaling", "rollback_instance_refresh", AutoScalingGroupName=group)
        return str(answer["InstanceRefreshId"])

    def cancel_refresh(self, group: str) -> str:
        answer = self.call("autoscaling", "cancel_instance_refresh", AutoScalingGroupName=group)
        return str(answer["InstanceRefreshId"])

    # --- CloudWatch ----------------------------------------------------------------------
    def describe_alarms(self, names: list[str]) -> list[AwsItem]:
        alarms: list[AwsItem] = []
        for start in range(0, len(names), 100):
            page = self.call(
                "cloudwatch",
                "describe_alarms",
                AlarmNames=names[start : start + 100],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            )
            alarms += page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        return alarms

    def metric_data(self, queries: list[AwsItem], start: datetime, end: datetime) -> list[AwsItem]:
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
                return list(results.values())
            params["NextToken"] = page["NextToken"]

    # --- Step Functions and SNS ----------------------------------------------------------
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


def _groups(described: Iterator[AwsItem]) -> list[Group]:
    return [
        Group(
            name=item["AutoScalingGroupName"],
            tags={tag["Key"]: tag.get("Value", "") for tag in item.get("Tags", [])},
        )
        for item in described
    ]


def _template_selector(template: AwsItem) -> dict[str, str]:
    if template.get("LaunchTemplateId"):
        return {"LaunchTemplateId": template["LaunchTemplateId"]}
    return {"LaunchTemplateName": template["LaunchTemplateName"]}


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
