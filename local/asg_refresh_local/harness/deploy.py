"""Creating a template's resources in moto, the way CloudFormation would name them.

Physical names of functions, state machines, rules and roles are computed up front, so
resources can reference each other in any direction (a function's environment names the state
machine whose definition names the function). Queues, topics, tables, keys and parameters are
created the first time something references them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asg_refresh_local.harness.lambda_routing import FunctionSpec
from asg_refresh_local.harness.sam import expand
from asg_refresh_local.harness.template import Resolver, Template, TemplateError, load_document

ClientFactory = Callable[[str], Any]

_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}
_MAX_NAME = {
    "AWS::Serverless::Function": 64,
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::Events::Rule": 64,
    "AWS::SQS::Queue": 80,
    "AWS::SNS::Topic": 256,
}
_FUNCTIONS = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
_STATE_MACHINES = {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}
_CREATED_LATE = (
    _FUNCTIONS
    | _STATE_MACHINES
    | {
        "AWS::Events::Rule",
        "AWS::SNS::Subscription",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Serverless::LayerVersion",
    }
)
#: Not created in moto, but not skipped either: asg_refresh_local.iam evaluates them.
_EVALUATED_BY_IAM = {
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::Lambda::Permission",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
}
_CREATED_EARLY = {
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::DynamoDB::Table",
    "AWS::SSM::Parameter",
    "AWS::IAM::Role",
}


@dataclass
class DeployedResource:
    logical_id: str
    resource_type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    """What a deployment produced."""

    resources: dict[str, DeployedResource] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)


class Deployer:
    def __init__(
        self,
        template: Template,
        client: ClientFactory,
        *,
        region: str,
        account_id: str,
        stack_name: str,
        parameter_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.client = client
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.resolver = Resolver(
            template, self._lookup, region, account_id, stack_name, parameter_overrides or {}
        )
        self.result = Deployment(parameters=self.resolver.parameters)
        self._resources = {
            logical_id: resource
            for logical_id, resource in expand(template).items()
            if "Condition" not in resource or self.resolver.condition(resource["Condition"])
        }
        self._in_progress: set[str] = set()

    # -- naming ------------------------------------------------------------------------------------

    def _props(self, logical_id: str) -> dict[str, Any]:
        return dict(self._resources[logical_id].get("Properties") or {})

    def _type(self, logical_id: str) -> str:
        return str(self._resources[logical_id]["Type"])

    def _name(self, logical_id: str) -> str:
        kind = self._type(logical_id)
        key = _NAME_PROPERTY.get(kind)
        props = self._props(logical_id)
        if key and props.get(key):
            return str(self.resolver.resolve(props[key]))
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode(), usedforsecurity=False)
        suffix_text = suffix.hexdigest()[:12].upper()
        limit = _MAX_NAME.get(kind, 80) - len(suffix_text) - 2
        name = f"{self.stack_name}-{logical_id}"[:limit]
        if kind == "AWS::SQS::Queue" and props.get("FifoQueue"):
            return f"{name[: limit - 5]}-{suffix_text}.fifo"
        return f"{name}-{suffix_text}"

    def lookup(self, logical_id: str, attribute: str | None) -> Any:
        """``Ref`` (attribute None) or ``Fn::GetAtt`` of a deployed resource."""
        return self._lookup(logical_id, attribute)

    def role_arn(self, logical_id: str) -> str:
        """The ARN CloudFormation would give a role the harness did not create."""
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode(), usedforsecurity=False)
        name = f"{self.stack_name}-{logical_id}"[: 64 - 14] + "-" + suffix.hexdigest()[:12].upper()
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    # -- lookup (Ref / GetAtt) ---------------------------------------------------------------------

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        if logical_id not in self._resources:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id}")
        deployed = self.result.resources.get(logical_id) or self._identify(logical_id)
        if attribute is None:
            return deployed.physical_id
        if attribute not in deployed.attributes:
            raise TemplateError(f"{logical_id} ({deployed.resource_type}) has no attribute {attribute}")
        return deployed.attributes[attribute]

    def _identify(self, logical_id: str) -> DeployedResource:
        kind = self._type(logical_id)
        if kind in _CREATED_EARLY:
            return self._create_early(logical_id)
        name = self._name(logical_id)
        if kind in _FUNCTIONS:
            arn = self._arn("lambda", f"function:{name}")
            deployed = DeployedResource(logical_id, kind, name, {"Arn": arn})
        elif kind in _STATE_MACHINES:
            arn = self._arn("states", f"stateMachine:{name}")
            deployed = DeployedResource(logical_id, kind, arn, {"Arn": arn, "Name": name})
        elif kind == "AWS::Events::Rule":
            bus = self.resolver.resolve(self._props(logical_id).get("EventBusName", "default"))
            bus_name = str(bus).rsplit("/", 1)[-1]
            path = f"rule/{name}" if bus_name == "default" else f"rule/{bus_name}/{name}"
            deployed = DeployedResource(logical_id, kind, name, {"Arn": self._arn("events", path)})
        elif kind == "AWS::Serverless::LayerVersion":
            arn = self._arn("lambda", f"layer:{name}:1")
            deployed = DeployedResource(logical_id, kind, arn, {"Arn": arn})
        else:
            service = kind.split("::")[1].lower() if "::" in kind else "unknown"
            deployed = DeployedResource(logical_id, kind, name, {"Arn": self._arn(service, name)})
        self.result.resources[logical_id] = deployed
        return deployed

    # -- early resources ---------------------------------------------------------------------------

    def _create_early(self, logical_id: str) -> DeployedResource:
        if logical_id in self._in_progress:
            raise TemplateError(f"circular reference through {logical_id}")
        self._in_progress.add(logical_id)
        try:
            kind = self._type(logical_id)
            props = self.resolver.resolve(self._props(logical_id))
            creator = {
                "AWS::KMS::Key": self._create_key,
                "AWS::KMS::Alias": self._create_alias,
                "AWS::SQS::Queue": self._create_queue,
                "AWS::SNS::Topic": self._create_topic,
                "AWS::DynamoDB::Table": self._create_table,
                "AWS::SSM::Parameter": self._create_parameter,
                "AWS::IAM::Role": self._create_role,
            }[kind]
            physical_id, attributes = creator(logical_id, props)
            deployed = DeployedResource(logical_id, kind, physical_id, attributes)
            self.result.resources[logical_id] = deployed
            return deployed
        finally:
            self._in_progress.discard(logical_id)

    def _create_key(self, _logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {"Description": props.get("Description", "")}
        if "KeyPolicy" in props:
            kwargs["Policy"] = json.dumps(props["KeyPolicy"])
        meta = self.client("kms").create_key(**kwargs)["KeyMetadata"]
        return meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}

    def _create_alias(self, _logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        return props["AliasName"], {}

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = self._name(logical_id)
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items()
            if k not in {"QueueName", "Tags"}
        }
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_topic(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = self._name(logical_id)
        attributes = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items()
            if k in {"KmsMasterKeyId", "DisplayName", "FifoTopic", "ContentBasedDeduplication"}
        }
        sns = self.client("sns")
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription") or []:
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return arn, {"TopicArn": arn, "TopicName": name}

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = self._name(logical_id)
        kwargs = {
            k: v
            for k, v in props.items()
            if k
            in {
                "KeySchema",
                "AttributeDefinitions",
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
                "StreamSpecification",
                "ProvisionedThroughput",
            }
        }
        kwargs["BillingMode"] = props.get(
            "BillingMode", "PROVISIONED" if "ProvisionedThroughput" in props else "PAY_PER_REQUEST"
        )
        dynamodb = self.client("dynamodb")
        table = dynamodb.create_table(TableName=name, **kwargs)["TableDescription"]
        if props.get("TimeToLiveSpecification"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )
        attributes = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attributes["StreamArn"] = table["LatestStreamArn"]
        return name, attributes

    def _create_parameter(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = props.get("Name") or f"CFN-{self._name(logical_id)}"
        self.client("ssm").put_parameter(
            Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
        )
        return name, {"Type": props.get("Type", "String"), "Value": props["Value"]}

    def _create_role(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Only the role itself: Lambda needs it to exist. Its policies are evaluated by
        # asg_refresh_local.iam (from SAM's translation), not by moto.
        name = self._name(logical_id)
        role = self.client("iam").create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument") or {}),
        )["Role"]
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    # -- the deployment ----------------------------------------------------------------------------

    def deploy(self) -> Deployment:
        for logical_id in self._resources:
            kind = self._type(logical_id)
            if kind in _CREATED_EARLY and logical_id not in self.result.resources:
                self._create_early(logical_id)
            elif kind not in _CREATED_EARLY and kind not in _CREATED_LATE:
                self._identify(logical_id)
                if kind not in _EVALUATED_BY_IAM:
                    self.result.skipped.append(f"{logical_id} ({kind})")
        for logical_id in self._of_types(_FUNCTIONS):
            self._create_function(logical_id)
        for logical_id in self._of_types({"AWS::Lambda::EventInvokeConfig"}):
            self._apply_invoke_config(logical_id)
        for logical_id in self._of_types(_STATE_MACHINES):
            self._create_state_machine(logical_id)
        for logical_id in self._of_types({"AWS::SNS::Subscription"}):
            self._create_subscription(logical_id)
        for logical_id in self._of_types({"AWS::Events::Rule"}):
            self._create_rule(logical_id)
        for name, output in self.template.outputs.items():
            if "Condition" not in output or self.resolver.condition(output["Condition"]):
                self.result.outputs[name] = self.resolver.resolve(output.get("Value"))
        return self.result

    def _of_types(self, kinds: set[str]) -> list[str]:
        return [logical_id for logical_id in self._resources if self._type(logical_id) in kinds]

    def _code_dir(self, props: dict[str, Any], key: str) -> Path:
        uri = props.get(key) or "."
        if isinstance(uri, dict) or str(uri).startswith("s3://"):
            raise TemplateError(f"{key} {uri!r}: only local paths can run in-process")
        return (self.template.base_dir / str(uri)).resolve()

    def _create_function(self, logical_id: str) -> None:
        kind = self._type(logical_id)
        deployed = self._identify(logical_id)
        props = self.resolver.resolve(self._props(logical_id))
        layer_dirs = []
        for layer in props.get("Layers") or []:
            for candidate_id, resource in self._resources.items():
                if (
                    resource["Type"] == "AWS::Serverless::LayerVersion"
                    and self._lookup(candidate_id, None) == layer
                ):
                    root = self._code_dir(self.resolver.resolve(resource["Properties"]), "ContentUri")
                    layer_dirs += [root / "python", root]
        code_key = "CodeUri" if kind == "AWS::Serverless::Function" else "Code"
        dead_letter = props.get("DeadLetterQueue") or {}
        spec = FunctionSpec(
            logical_id=logical_id,
            name=deployed.physical_id,
            arn=deployed.attributes["Arn"],
            code_dir=self._code_dir(props, code_key) if code_key == "CodeUri" else self.template.base_dir,
            handler=str(props.get("Handler", "app.lambda_handler")),
            runtime=str(props.get("Runtime", "python3.11")),
            memory_size=int(props.get("MemorySize", 128)),
            timeout=int(props.get("Timeout", 3)),
            environment={
                k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
            },
            layer_dirs=layer_dirs,
            dead_letter_arn=dead_letter.get("TargetArn")
            or (props.get("DeadLetterConfig") or {}).get("TargetArn"),
            role_arn=str(props["Role"]),
        )
        self.client("lambda").create_function(
            FunctionName=spec.name,
            Runtime=spec.runtime,
            Role=props["Role"],
            Handler=spec.handler,
            Code={"ZipFile": _dummy_zip()},
            Timeout=spec.timeout,
            MemorySize=spec.memory_size,
            Environment={"Variables": spec.environment},
        )
        self.result.functions[logical_id] = spec

    def _apply_invoke_config(self, logical_id: str) -> None:
        props = self.resolver.resolve(self._props(logical_id))
        target = str(props["FunctionName"]).split(":function:")[-1].split(":")[0]
        for spec in self.result.functions.values():
            if spec.name == target:
                spec.maximum_retry_attempts = int(props.get("MaximumRetryAttempts", 2))
                on_failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
                spec.on_failure_arn = on_failure.get("Destination")
        self.result.resources[logical_id] = DeployedResource(logical_id, self._type(logical_id), target)

    def _definition(self, props: dict[str, Any]) -> str:
        if "DefinitionUri" in props:
            path = self._code_dir(props, "DefinitionUri")
            definition: Any = load_document(path.read_text())
        elif "Definition" in props:
            definition = props["Definition"]
        else:
            definition = json.loads(props["DefinitionString"])
        text = json.dumps(definition, indent=2)
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        return text

    def _create_state_machine(self, logical_id: str) -> None:
        deployed = self._identify(logical_id)
        props = self.resolver.resolve(self._props(logical_id))
        role = props.get("Role") or props.get("RoleArn")
        self.client("stepfunctions").create_state_machine(
            name=deployed.attributes["Name"],
            definition=self._definition(props),
            roleArn=role,
            type=props.get("Type", "STANDARD"),
        )

    def _create_subscription(self, logical_id: str) -> None:
        props = self.resolver.resolve(self._props(logical_id))
        kwargs: dict[str, Any] = {
            "TopicArn": props["TopicArn"],
            "Protocol": props["Protocol"],
            "Endpoint": props["Endpoint"],
        }
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items()
            if k in {"FilterPolicy", "RawMessageDelivery", "FilterPolicyScope", "RedrivePolicy"}
        }
        if attributes:
            kwargs["Attributes"] = attributes
        arn = self.client("sns").subscribe(**kwargs)["SubscriptionArn"]
        self.result.resources[logical_id] = DeployedResource(logical_id, "AWS::SNS::Subscription", arn)

    def _create_rule(self, logical_id: str) -> None:
        deployed = self._identify(logical_id)
        props = self.resolver.resolve(self._props(logical_id))
        events = self.client("events")
        kwargs: dict[str, Any] = {"Name": deployed.physical_id, "State": props.get("State", "ENABLED")}
        if props.get("EventBusName"):
            kwargs["EventBusName"] = str(props["EventBusName"]).rsplit("/", 1)[-1]
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        events.put_rule(**kwargs)
        targets = []
        for target in props.get("Targets") or []:
            entry = {
                k: v
                for k, v in target.items()
                if k
                in {
                    "Id",
                    "Arn",
                    "Input",
                    "InputPath",
                    "InputTransformer",
                    "DeadLetterConfig",
                    "RetryPolicy",
                    "RoleArn",
                    "SqsParameters",
                }
            }
            if isinstance(entry.get("Input"), dict):
                entry["Input"] = json.dumps(entry["Input"])
            targets.append(entry)
        if targets:
            bus = {"EventBusName": kwargs["EventBusName"]} if "EventBusName" in kwargs else {}
            events.put_targets(Rule=deployed.physical_id, Targets=targets, **bus)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the harness runs the project's code in-process\n")
    return buffer.getvalue()
