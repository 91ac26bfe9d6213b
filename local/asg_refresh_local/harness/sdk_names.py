"""The field names of an aws-sdk task, as Step Functions writes them, and as boto3 wants them.

Step Functions' AWS SDK integrations take and return every field in PascalCase, whatever the
service's own casing: ``aws-sdk:sfn:describeExecution`` is called with ``ExecutionArn`` and answers
``Status`` and ``Output``, although the Step Functions API itself says ``executionArn``,
``status`` and ``output`` (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html:
"Parameters ... and response fields ... are PascalCase"). moto's interpreter hands the parameters
to boto3 as written and the response back as boto3 returns it, which only works for services that
are PascalCase already (Auto Scaling, CloudWatch). These functions walk botocore's model of the
operation, the authority on the member names, and rename each structure's members both ways; map
keys and string values are never touched.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore import xform_name
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from asg_refresh_local.harness.sfn_errors import botocore_model


@cache
def operation(service: str, action: str) -> OperationModel:
    """botocore's model of ``action`` (boto3's snake_case name, as moto's interpreter has it)."""
    model = botocore_model(service)
    by_python_name = {xform_name(name): name for name in model.operation_names}
    return model.operation_model(by_python_name.get(action, action))


def to_model_names(shape: Shape | None, value: Any) -> Any:
    """The task's PascalCase parameters renamed to the model's members (``ExecutionArn`` ->
    ``executionArn``); a name the model does not know is left as written, for botocore to refuse."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {str(name).lower(): str(name) for name in shape.members}
        renamed = {}
        for key, item in value.items():
            name = str(key) if key in shape.members else members.get(str(key).lower(), str(key))
            renamed[name] = to_model_names(shape.members.get(name), item)
        return renamed
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_model_names(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_model_names(shape.value, item) for key, item in value.items()}
    return value


def to_sdk_names(shape: Shape | None, value: Any) -> Any:
    """The service's response with every structure member in PascalCase, as the task returns it."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        return {_pascal(key): to_sdk_names(members.get(key), item) for key, item in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_sdk_names(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_sdk_names(shape.value, item) for key, item in value.items()}
    return value



def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]
