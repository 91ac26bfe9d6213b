"""The authorization requests of each action the stack's principals make, from moto's state.

One function per service turns a request into the :class:`AuthRequest`s AWS evaluates, reading
the target's tags from moto's backends. An action that is not listed here is authorized on
``*``, which denies it wherever the policies scope it: a gap shows up as a denial, never as a
silent allow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asg_refresh_local.iam.requests import AuthRequest, RequestView, tag_context


def _autoscaling_group(view: RequestView, name: str) -> tuple[str, dict[str, str]]:
    from moto.autoscaling.models import autoscaling_backends

    group = autoscaling_backends[view.account_id][view.region].autoscaling_groups.get(name)
    if group is None:
        return view.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}"), {}
    return str(group.arn), {str(t["Key"]): str(t.get("Value", "")) for t in group.tags}


def _ec2_backend(view: RequestView) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[view.account_id][view.region]


def _ec2_tags(view: RequestView, resource_id: str) -> dict[str, str]:
    tags = _ec2_backend(view).describe_tags(filters={"resource-id": [resource_id]})
    return {str(t["key"]): str(t["value"]) for t in tags}


def _launch_template(view: RequestView, template_id: str | None, name: str | None) -> Any:
    backend = _ec2_backend(view)
    try:
        if template_id:
            return backend.get_launch_template(template_id)
        if name:
            return backend.get_launch_template_by_name(name)
    except Exception:
        return None
    return None


def _launch_template_request(view: RequestView, action: str, template: Any, missing: str) -> AuthRequest:
    if template is None:
        return AuthRequest(action, view.arn("ec2", f"launch-template/{missing or '*'}"))
    return AuthRequest(
        action,
        view.arn("ec2", f"launch-template/{template.id}"),
        tag_context("ec2", _ec2_tags(view, template.id)),
    )


def _use_launch_template(view: RequestView, prefix: str) -> list[AuthRequest]:
    """What the caller must be allowed to set a launch template on a group (or a refresh).

    Auto Scaling checks ec2:RunInstances on the template and what it launches, ec2:CreateTags
    where the template tags instances or volumes, iam:PassRole for its instance profile.
    """
    template = _launch_template(
        view, view.get(f"{prefix}.LaunchTemplateId"), view.get(f"{prefix}.LaunchTemplateName")
    )
    denial = (
        "You are not authorized to use launch template: "
        f"{view.get(f'{prefix}.LaunchTemplateId') or view.get(f'{prefix}.LaunchTemplateName')}"
    )
    checks = [_launch_template_request(view, "ec2:RunInstances", template, "*")]
    data: dict[str, Any] = {}
    if template is not None:
        try:
            data = template.get_version(view.get(f"{prefix}.Version") or "$Default").data
        except Exception:
            data = {}
        image = data.get("ImageId")
        if image:
            checks.append(AuthRequest("ec2:RunInstances", view.arn("ec2", f"image/{image}", account=False)))
    for kind in ("instance", "volume", "network-interface", "subnet", "security-group"):
        checks.append(AuthRequest("ec2:RunInstances", view.arn("ec2", f"{kind}/*")))
    if data.get("TagSpecifications"):
        for kind in ("instance", "volume"):
            checks.append(
                AuthRequest(
                    "ec2:CreateTags", view.arn("ec2", f"{kind}/*"), {"ec2:CreateAction": "RunInstances"}
                )
            )
    profile = data.get("IamInstanceProfile") or {}
    for role_arn in _instance_profile_roles(view, profile):
        checks.append(AuthRequest("iam:PassRole", role_arn, {"iam:PassedToService": "ec2.amazonaws.com"}))
    return [
        AuthRequest(c.action, c.resource, c.context, denial_code="AccessDenied", denial_message=denial)
        for c in checks
    ]


def _instance_profile_roles(view: RequestView, profile: dict[str, Any]) -> list[str]:
    if not profile:
        return []
    from moto.iam.models import iam_backends

    backend = iam_backends[view.account_id]["global"]
    for candidate in backend.instance_profiles.values():
        if profile.get("Arn") == candidate.arn or profile.get("Name") == candidate.name:
            return [str(role.arn) for role in candidate.roles]
    return [f"arn:aws:iam::{view.account_id}:role/*"]


def autoscaling(view: RequestView) -> list[AuthRequest]:
    if view.operation.startswith("Describe"):
        return [AuthRequest(view.iam_action, "*")]
    name = str(view.get("AutoScalingGroupName") or "")
    arn, tags = _autoscaling_group(view, name)
    checks = [AuthRequest(view.iam_action, arn, tag_context("autoscaling", tags))]
    for prefix in (
        "LaunchTemplate",
        "DesiredConfiguration.LaunchTemplate",
        "DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification",
        "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification",
    ):
        if view.get(f"{prefix}.LaunchTemplateId") or view.get(f"{prefix}.LaunchTemplateName"):
            checks += _use_launch_template(view, prefix)
    return checks


_EC2_LAUNCH_TEMPLATE_WRITES = {
    "CreateLaunchTemplateVersion",
    "DeleteLaunchTemplateVersions",
    "ModifyLaunchTemplate",
    "DeleteLaunchTemplate",
}


def ec2(view: RequestView) -> list[AuthRequest]:
    if view.operation in _EC2_LAUNCH_TEMPLATE_WRITES:
        template = _launch_template(view, view.get("LaunchTemplateId"), view.get("LaunchTemplateName"))
        missing = str(view.get("LaunchTemplateId") or view.get("LaunchTemplateName") or "*")
        return [_launch_template_request(view, view.iam_action, template, missing)]
    if view.operation.startswith("Describe"):
        return [AuthRequest(view.iam_action, "*")]
    return [AuthRequest(view.iam_action, "*")]


def ssm(view: RequestView) -> list[AuthRequest]:
    names = [str(view.get("Name"))] if view.get("Name") else view.members("Names")
    if not names:
        return [AuthRequest(view.iam_action, "*")]
    return [AuthRequest(view.iam_action, view.arn("ssm", f"parameter/{n.lstrip('/')}")) for n in names]


def sqs(view: RequestView) -> list[AuthRequest]:
    url = str(view.get("QueueUrl") or "")
    name = url.rstrip("/").rsplit("/", 1)[-1] if url else str(view.get("QueueName") or "*")
    arn = view.arn("sqs", name)
    return [AuthRequest(view.iam_action, arn, resource_policy_arn=arn)]


def sns(view: RequestView) -> list[AuthRequest]:
    arn = str(view.get("TopicArn") or view.get("TargetArn") or "*")
    checks = [AuthRequest(view.iam_action, arn, resource_policy_arn=arn, denial_code="AuthorizationError")]
    if view.operation == "Publish":
        checks += topic_key_checks(view.account_id, view.region, arn)
    return checks


def topic_key_checks(account_id: str, region: str, topic_arn: str) -> list[AuthRequest]:
    """Publishing to an encrypted topic: SNS uses the publisher's permissions on the key."""
    from moto.sns.models import sns_backends

    topic = sns_backends[account_id][region].topics.get(topic_arn)
    key = getattr(topic, "kms_master_key_id", None) if topic is not None else None
    if not key:
        return []
    key_arn = _key_arn(account_id, region, str(key))
    context: dict[str, str | list[str]] = {
        "kms:ViaService": f"sns.{region}.amazonaws.com",
        "kms:CallerAccount": account_id,
    }
    return [
        AuthRequest(
            action,
            key_arn,
            context,
            resource_policy_arn=key_arn,
            denial_code="KMSAccessDenied",
            denial_message=f"User not authorized to perform {action} on {key_arn} (KMS key of {topic_arn})",
        )
        for action in ("kms:GenerateDataKey", "kms:Decrypt")
    ]


def _key_arn(account_id: str, region: str, key: str) -> str:
    if key.startswith("arn:"):
        return key
    from moto.kms.models import kms_backends

    backend = kms_backends[account_id][region]
    found = backend.keys.get(key)
    if found is None and key.startswith("alias/"):
        target = backend.get_key_id_from_alias(key)
        found = backend.keys.get(target) if target else None
    return str(found.arn) if found is not None else f"arn:aws:kms:{region}:{account_id}:key/{key}"


def dynamodb(view: RequestView) -> list[AuthRequest]:
    tables: list[str] = []
    if view.get("TableName"):
        tables = [str(view.get("TableName"))]
    for key in ("RequestItems",):
        value = view.get(key)
        if isinstance(value, dict):
            tables += [str(t) for t in value]
    for item in view.get("TransactItems") or []:
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("TableName"):
                tables.append(str(operation["TableName"]))
    index = view.get("IndexName")
    resources = [
        view.arn("dynamodb", f"table/{t}" + (f"/index/{index}" if index else ""))
        for t in dict.fromkeys(tables)
    ]
    return [AuthRequest(view.iam_action, r) for r in resources] or [AuthRequest(view.iam_action, "*")]


def states(view: RequestView) -> list[AuthRequest]:
    arn = view.get("executionArn") or view.get("stateMachineArn")
    if view.operation in {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}:
        return [AuthRequest(view.iam_action, "*")]
    return [AuthRequest(view.iam_action, str(arn or "*"))]


def awslambda(view: RequestView) -> list[AuthRequest]:
    name = view.path.split("/functions/", 1)[-1].split("/", 1)[0] if "/functions/" in view.path else "*"
    name = name.split(":function:", 1)[-1].split(":", 1)[0]
    arn = view.arn("lambda", f"function:{name}")
    return [AuthRequest(view.iam_action, arn, resource_policy_arn=arn)]


def cloudwatch(view: RequestView) -> list[AuthRequest]:
    if view.operation == "DescribeAlarms":
        names = view.members("AlarmNames")
        if not names:
            return [AuthRequest(view.iam_action, view.arn("cloudwatch", "alarm:*"))]
        return [AuthRequest(view.iam_action, view.arn("cloudwatch", f"alarm:{n}")) for n in names]
    return [AuthRequest(view.iam_action, "*")]


def events(view: RequestView) -> list[AuthRequest]:
    if view.operation == "PutEvents":
        return [AuthRequest(view.iam_action, view.arn("events", "event-bus/default"))]
    return [AuthRequest(view.iam_action, "*")]


BY_SERVICE: dict[str, Callable[[RequestView], list[AuthRequest]]] = {
    "autoscaling": autoscaling,
    "ec2": ec2,
    "ssm": ssm,
    "sqs": sqs,
    "sns": sns,
    "dynamodb": dynamodb,
    "stepfunctions": states,
    "awslambda": awslambda,
    "cloudwatch": cloudwatch,
    "events": events,
}


def requests_for(view: RequestView) -> list[AuthRequest]:
    handler = BY_SERVICE.get(view.service)
    return handler(view) if handler else [AuthRequest(view.iam_action, "*")]
