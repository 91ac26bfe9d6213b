"""The policies AWS would hold for a deployed template, as CloudFormation would create them.

``template.yaml`` goes through SAM's own translator (``samtranslator``, as ``sam deploy`` does),
so generated roles, SAM policy templates, event-source permissions and rule roles are exactly
what AWS would get. Intrinsics are then resolved with the harness's resolver, against the names
the harness deployed. What comes out:

* every role's identity policies (inline, ``AWS::IAM::Policy``/``ManagedPolicy`` attached to it,
  and the AWS managed policies SAM attaches);
* every resource policy: queue policies, topic policies (AWS's default where none is set), KMS
  key policies, and Lambda permissions (as the function policy Lambda builds from them);
* the role each EventBridge rule target uses.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: the harness imports this package
    from asg_refresh_local.harness.template import Resolver, Template


def _template_error(message: str) -> Exception:
    from asg_refresh_local.harness.template import TemplateError

    return TemplateError(message)


#: The AWS managed policies SAM attaches, as AWS publishes them (policy versions of 2026-11).
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ],
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaRole": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": ["*"]}],
    },
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            }
        ],
    },
}

#: EC2 Image Builder publishes its notifications as its service-linked role. Its managed policy
#: (AWSServiceRolePolicyForImageBuilder) grants sns:Publish on every topic and nothing of KMS,
#: so an encrypted topic's key policy must name the role itself.
IMAGE_BUILDER_ROLE_NAME = "aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder"
IMAGE_BUILDER_ROLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}],
}


def access_key_for(role_arn: str) -> str:
    """A stable temporary access key id (``ASIA...``, 20 characters) for a role's session."""
    digest = hashlib.sha256(role_arn.encode()).digest()
    return "ASIA" + base64.b32encode(digest).decode()[:16]


@dataclass(frozen=True)
class Principal:
    """A role's session, as AWS sees the caller of a Lambda function or a state machine task."""

    role_logical_id: str
    role_arn: str
    policies: tuple[tuple[str, dict[str, Any]], ...]

    @property
    def role_name(self) -> str:
        return self.role_arn.split(":role/", 1)[1].rsplit("/", 1)[-1]

    @property
    def session_arn(self) -> str:
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role_name}/{self.role_logical_id}"

    @property
    def access_key_id(self) -> str:
        return access_key_for(self.role_arn)

    def credentials(self) -> dict[str, str]:
        """The variables Lambda sets for a function's role."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": "local-" + self.access_key_id.lower(),
            "AWS_SESSION_TOKEN": "local-session-" + self.access_key_id.lower(),
        }


@dataclass
class PolicySet:
    account_id: str
    region: str
    principals: dict[str, Principal] = field(default_factory=dict)  # by role ARN
    resource_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by resource ARN
    rule_target_roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (rule, target) -> role

    def principal_for_key(self, access_key_id: str) -> Principal | None:
        for principal in self.principals.values():
            if principal.access_key_id == access_key_id:
                return principal
        return None

    def image_builder(self) -> Principal:
        arn = f"arn:aws:iam::{self.account_id}:role/{IMAGE_BUILDER_ROLE_NAME}"
        return Principal(
            "ImageBuilder", arn, (("AWSServiceRolePolicyForImageBuilder", IMAGE_BUILDER_ROLE_POLICY),)
        )


def translate(template: Template) -> dict[str, Any]:
    """``template.yaml`` as ``sam deploy`` hands it to CloudFormation (intrinsics unresolved)."""
    return copy.deepcopy(_translated(json.dumps(template.body, sort_keys=True)))


@lru_cache(maxsize=8)
def _translated(body: str) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    document = json.loads(body)
    for logical_id, resource in (document.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://asg-refresh-local/{logical_id}"  # as `sam package` leaves them

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        translated: dict[str, Any] = transform(document, {}, _NoManagedPolicies())
    finally:
        if region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
    return translated


def build_policy_set(
    template: Template,
    lookup: Callable[[str, str | None], Any],
    *,
    region: str,
    account_id: str,
    stack_name: str,
    parameter_overrides: dict[str, Any],
    role_arn_for: Callable[[str], str],
) -> PolicySet:
    """Every principal's and resource's policies, intrinsics resolved against the deployment.

    ``lookup`` is the harness's (Ref/GetAtt of what it deployed); ``role_arn_for`` names roles
    SAM generates that the harness has no use for (a rule's role for a state machine target).
    """
    from asg_refresh_local.harness.template import Resolver, TemplateError

    translated = translate(template)
    resources: dict[str, Any] = translated["Resources"]

    def translated_lookup(logical_id: str, attribute: str | None) -> Any:
        try:
            return lookup(logical_id, attribute)
        except TemplateError:
            kind = (resources.get(logical_id) or {}).get("Type")
            if kind == "AWS::IAM::Role":
                arn = role_arn_for(logical_id)
                return arn if attribute == "Arn" else arn.rsplit("/", 1)[-1]
            if kind == "AWS::IAM::ManagedPolicy":
                return f"arn:aws:iam::{account_id}:policy/{stack_name}-{logical_id}"
            raise

    resolver = Resolver(template, translated_lookup, region, account_id, stack_name, parameter_overrides)
    policies = PolicySet(account_id=account_id, region=region)
    managed = _customer_managed_policies(resources, resolver)
    attached = _attached_policies(resources, resolver)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource.get("Properties") or {}
        arn = str(translated_lookup(logical_id, "Arn"))
        documents: list[tuple[str, dict[str, Any]]] = [
            (str(p["PolicyName"]), _document(resolver.resolve(p["PolicyDocument"])))
            for p in props.get("Policies") or []
        ]
        for managed_arn in resolver.resolve(props.get("ManagedPolicyArns") or []):
            if managed_arn in AWS_MANAGED_POLICIES:
                documents.append((managed_arn.rsplit("/", 1)[-1], AWS_MANAGED_POLICIES[managed_arn]))
            elif managed_arn in managed:
                documents.append((managed_arn.rsplit("/", 1)[-1], managed[managed_arn]))
            else:
                raise _template_error(
                    f"{logical_id}: managed policy {managed_arn} is not known to the harness"
                )
        documents += attached.get(logical_id, [])
        policies.principals[arn] = Principal(logical_id, arn, tuple(documents))
    _resource_policies(resources, resolver, policies)
    return policies


def _document(value: Any) -> dict[str, Any]:
    """A policy document, which CloudFormation also accepts as a JSON string."""
    document = json.loads(value) if isinstance(value, str) else value
    if not isinstance(document, dict):
        raise _template_error(f"a policy document must be an object, not {type(document).__name__}")
    return document


def _customer_managed_policies(resources: dict[str, Any], resolver: Resolver) -> dict[str, dict[str, Any]]:
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            arn = str(resolver.ref(logical_id))
            found[arn] = _document(resolver.resolve(resource["Properties"]["PolicyDocument"]))
    return found


def _attached_policies(
    resources: dict[str, Any], resolver: Resolver
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """``AWS::IAM::Policy`` and ``ManagedPolicy`` resources that name roles, by role logical id."""
    attached: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            continue
        props = resource["Properties"]
        for role in props.get("Roles") or []:
            role_id = role.get("Ref") if isinstance(role, dict) else None
            if role_id is None:
                raise _template_error(f"{logical_id}: attach policies to roles with Ref, not {role!r}")
            document = _document(resolver.resolve(props["PolicyDocument"]))
            attached.setdefault(role_id, []).append((str(props.get("PolicyName", logical_id)), document))
    return attached


def _resource_policies(resources: dict[str, Any], resolver: Resolver, policies: PolicySet) -> None:
    statements: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties") or {}
        if kind == "AWS::SQS::QueuePolicy":
            document = _document(resolver.resolve(props["PolicyDocument"]))
            for url in resolver.resolve(props["Queues"]):
                name = str(url).rstrip("/").rsplit("/", 1)[-1]
                policies.resource_policies[f"arn:aws:sqs:{policies.region}:{policies.account_id}:{name}"] = (
                    document
                )
        elif kind == "AWS::SNS::TopicPolicy":
            document = _document(resolver.resolve(props["PolicyDocument"]))
            for arn in resolver.resolve(props["Topics"]):
                policies.resource_policies[str(arn)] = document
        elif kind == "AWS::SNS::Topic":
            arn = str(resolver.ref(logical_id))
            policies.resource_policies.setdefault(arn, default_topic_policy(arn, policies.account_id))
        elif kind == "AWS::KMS::Key":
            arn = str(resolver.lookup(logical_id, "Arn"))
            policy = props.get("KeyPolicy")
            policies.resource_policies[arn] = (
                _document(resolver.resolve(policy)) if policy else default_key_policy(policies.account_id)
            )
        elif kind == "AWS::Lambda::Permission":
            function = str(resolver.resolve(props["FunctionName"]))
            arn = (
                function
                if function.startswith("arn:")
                else (f"arn:aws:lambda:{policies.region}:{policies.account_id}:function:{function}")
            )
            statements.setdefault(arn, []).append(
                _permission_statement(logical_id, arn, resolver.resolve(props))
            )
        elif kind == "AWS::Events::Rule":
            rule_arn = str(resolver.lookup(logical_id, "Arn"))
            for target in props.get("Targets") or []:
                role = target.get("RoleArn")
                if role is not None:
                    target_arn = str(resolver.resolve(target["Arn"]))
                    policies.rule_target_roles[(rule_arn, target_arn)] = str(resolver.resolve(role))
    for arn, function_statements in statements.items():
        policies.resource_policies[arn] = {"Version": "2012-10-17", "Statement": function_statements}


def _permission_statement(sid: str, function_arn: str, props: dict[str, Any]) -> dict[str, Any]:
    """The statement Lambda writes into the function policy for one ``AddPermission``."""
    principal = str(props["Principal"])
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": props["Action"],
        "Resource": function_arn,
    }
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition["ArnLike"] = {"AWS:SourceArn": props["SourceArn"]}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"AWS:SourceAccount": props["SourceAccount"]}
    if condition:
        statement["Condition"] = condition
    return statement


def default_key_policy(account_id: str) -> dict[str, Any]:
    """The policy KMS gives a key created without one: the account's IAM policies decide."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def default_topic_policy(topic_arn: str, account_id: str) -> dict[str, Any]:
    """The policy SNS gives a topic created without one: the owner account's principals only."""
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:AddPermission",
                    "SNS:RemovePermission",
                    "SNS:DeleteTopic",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:Publish",
                ],
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
            }
        ],
    }
