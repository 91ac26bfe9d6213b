"""The error names Step Functions reports when a service integration fails.

One module for the harness (which names moto's errors with it) and for the test that checks every
``ErrorEquals`` in ``statemachine/`` (tests/unit/test_asl_error_names.py), so the two cannot drift.

**AWS SDK integrations** (``arn:aws:states:::aws-sdk:<service>:<action>``) report
``<ServiceName>.<ErrorName>``, both PascalCase, and the error name always ends in ``Exception``,
even where the service's own error name does not (S3's ``BucketAlreadyExists`` is caught as
``S3.BucketAlreadyExistsException``). ``<ServiceName>`` is the "exception prefix" of AWS's table
of supported services (``Sns``, ``Sfn``, ``DynamoDb``, ``AutoScaling``...):

* https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
* the table, as AWS last published it in git: awsdocs/aws-step-functions-developer-guide,
  doc_source/supported-services-awssdk.md

Both halves are the class names of the AWS SDK for Java 2.x: its service name is the model's
serviceId in PascalCase without a leading Amazon/Aws or a trailing Service, and an error shape
``XFault`` becomes ``XException``, any other ``X`` without the suffix ``XException``, words cased
as words (aws/aws-sdk-java-v2, codegen/.../naming/DefaultNamingStrategy.java, getServiceName and
getExceptionName, with utils/.../internal/CodegenNamingUtils.java pascalCase). That is why an RDS
``DBInstanceNotFoundFault`` is caught as ``Rds.DbInstanceNotFoundException`` in public state
machines, and why autoscaling's ``InstanceRefreshInProgressFault`` (code
``InstanceRefreshInProgress``) is ``AutoScaling.InstanceRefreshInProgressException``.

An error code the service's model does not declare (autoscaling's ``Throttling``,
``ValidationError`` and ``AccessDenied``, the query protocol's IAM denial) has no class of its
own: the SDK throws the service's base exception, and Step Functions reports
``<ServiceName>.<ServiceName>Exception``, so ``AutoScaling.AutoScalingException`` for all three.
Seen on AWS: an IAM denial of an aws-sdk ``dynamodb:describeTable`` task failed with
``DynamoDb.DynamoDbException`` and one of ``s3:getBucketAcl`` with ``S3.S3Exception``
(https://dev.to/aws-builders/handling-errors-with-stepfunctions-sns-sdk-integration-34g8);
LocalStack, whose Step Functions is snapshot-tested against AWS, names a ClientError without a
modelled class the same way (localstack/localstack, .../state_task_service_aws_sdk.py).

**Optimised integrations** (``lambda:invoke``, ``sns:publish``, ``states:startExecution``) are
older and name errors after the AWS SDK for Java 1.x: their own prefix (``Lambda``, ``SNS``,
``StepFunctions``), the 1.x class (``Fault`` becomes ``Exception``, otherwise ``Exception`` is
added, and the shape's casing is kept: ``SNS.KMSThrottlingException``), the 1.x base class for an
undeclared code (AWS documents ``Lambda.AWSLambdaException``; ``SNS.AmazonSNSException`` and
``StepFunctions.AWSStepFunctionsException`` follow from it), and the client-side
``SdkClientException`` and ``ClientExecutionTimeoutException``. Lambda adds ``Lambda.Unknown``:
https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html. The
causes these tasks report read ``(Service: AmazonSNS; Status Code: 400; Error Code: ...)``, the
1.x format (aws/aws-sdk-java, aws-java-sdk-code-generator/.../naming/DefaultNamingStrategy.java).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError


@dataclass(frozen=True)
class Integration:
    """How Step Functions names one service's errors."""

    #: The ``<ServiceName>`` before the dot.
    prefix: str
    #: botocore's name for the service, whose model declares its error shapes.
    botocore_name: str
    #: The error an undeclared code is reported as (the SDK's base exception).
    base_exception: str
    #: The AWS SDK for Java generation the names follow: 2 (aws-sdk) or 1 (optimised).
    java_sdk: int
    #: Names the integration reports besides the service's errors (client side, documented).
    extra: frozenset[str] = frozenset()


def _aws_sdk(prefix: str, botocore_name: str) -> Integration:
    return Integration(prefix, botocore_name, f"{prefix}Exception", java_sdk=2)


#: aws-sdk service name (as in the Resource ARN) -> its integration, the exception prefix as AWS's
#: table gives it. The services this project calls or is likely to; others are derived from
#: botocore's serviceId the way the SDK for Java 2.x derives them (``aws_sdk_integration``).
#: The 2022 copy of the table prints autoscaling's prefix as "Auto Scaling"; the page says prefixes
#: are PascalCase and the SDK for Java names the service AutoScaling, so that is what is used.
AWS_SDK_INTEGRATIONS: dict[str, Integration] = {
    "acmpca": _aws_sdk("AcmPca", "acm-pca"),
    "autoscaling": _aws_sdk("AutoScaling", "autoscaling"),
    "cloudwatch": _aws_sdk("CloudWatch", "cloudwatch"),
    "cloudwatchlogs": _aws_sdk("CloudWatchLogs", "logs"),
    "dynamodb": _aws_sdk("DynamoDb", "dynamodb"),
    "ec2": _aws_sdk("Ec2", "ec2"),
    "elasticloadbalancingv2": _aws_sdk("ElasticLoadBalancingV2", "elbv2"),
    "eventbridge": _aws_sdk("EventBridge", "events"),
    "iam": _aws_sdk("Iam", "iam"),
    "imagebuilder": _aws_sdk("Imagebuilder", "imagebuilder"),
    "kms": _aws_sdk("Kms", "kms"),
    "lambda": _aws_sdk("Lambda", "lambda"),
    "s3": _aws_sdk("S3", "s3"),
    "sfn": _aws_sdk("Sfn", "stepfunctions"),
    "sns": _aws_sdk("Sns", "sns"),
    "sqs": _aws_sdk("Sqs", "sqs"),
    "ssm": _aws_sdk("Ssm", "ssm"),
    "sts": _aws_sdk("Sts", "sts"),
}

_JAVA_V1_CLIENT_SIDE = frozenset({"SdkClientException", "ClientExecutionTimeoutException"})

#: Optimised integration (the service in ``arn:aws:states:::<service>:<action>``) -> its naming.
OPTIMISED_INTEGRATIONS: dict[str, Integration] = {
    "lambda": Integration(
        "Lambda", "lambda", "AWSLambdaException", java_sdk=1, extra=_JAVA_V1_CLIENT_SIDE | {"Unknown"}
    ),
    "sns": Integration("SNS", "sns", "AmazonSNSException", java_sdk=1, extra=_JAVA_V1_CLIENT_SIDE),
    "states": Integration(
        "StepFunctions", "stepfunctions", "AWSStepFunctionsException", java_sdk=1, extra=_JAVA_V1_CLIENT_SIDE
    ),
}


def split_on_word_boundaries(text: str) -> list[str]:
    """``CodegenNamingUtils.splitOnWordBoundaries`` of the AWS SDK for Java 2.x, step for step."""
    result = re.sub(r"[^A-Za-z0-9]+", " ", text)
    result = re.sub(r"([^a-z]{2,})v([0-9]+)", r"\1 v\2 ", result)
    result = re.sub(r"([^A-Z]{2,})V([0-9]+)", r"\1 V\2 ", result)
    result = " ".join(re.split(r"(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))", result))
    result = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", result)
    result = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", result)
    return re.sub(r" +", " ", result).strip().split(" ")


def pascal_case(text: str) -> str:
    """``CodegenNamingUtils.pascalCase``: ``KMSThrottling`` -> ``KmsThrottling``."""
    return "".join(word[:1].upper() + word[1:].lower() for word in split_on_word_boundaries(text))


def java_v2_service_name(service_id: str) -> str:
    """The SDK for Java 2.x's service name for a botocore serviceId: ``Auto Scaling`` -> ``AutoScaling``."""
    name = pascal_case(service_id)
    for prefix in ("Amazon", "Aws"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
    if name.endswith("Service") and len(name) > len("Service"):
        name = name[: -len("Service")]
    return name


def exception_name(error_shape: str, java_sdk: int) -> str:
    """The SDK for Java class of a shape: ``ResourceContentionFault`` -> ``ResourceContentionException``.

    2.x cases words as words (``KMSThrottlingException`` -> ``KmsThrottlingException``); 1.x keeps them.
    """
    if error_shape.endswith("Fault"):
        base, suffix = error_shape[: -len("Fault")], "Exception"
    elif error_shape.endswith("Exception"):
        base, suffix = error_shape, ""
    else:
        base, suffix = error_shape, "Exception"
    if java_sdk == 2:
        return pascal_case(base) + suffix
    return base[:1].upper() + base[1:] + suffix


@cache
def botocore_model(botocore_name: str) -> Any:
    """botocore's model of a service, loaded once (sdk_names reads its operations' shapes too)."""
    return botocore.session.get_session().get_service_model(botocore_name)


def service_model(integration: Integration) -> Any:
    """botocore's model of the integration's service (its error shapes and operations)."""
    return botocore_model(integration.botocore_name)


def aws_sdk_integration(service: str) -> Integration:
    """The naming of ``arn:aws:states:::aws-sdk:<service>:...`` errors."""
    known = AWS_SDK_INTEGRATIONS.get(service.lower())
    if known is not None:
        return known
    try:
        service_id = botocore_model(service.lower()).service_id
    except UnknownServiceError:
        service_id = service
    return _aws_sdk(java_v2_service_name(str(service_id)), service.lower())


def optimised_integration(service: str) -> Integration:
    """The naming of ``arn:aws:states:::<service>:...`` errors (lambda, sns, states)."""
    return OPTIMISED_INTEGRATIONS[service]


def error_name(integration: Integration, error_shape: str | None) -> str:
    """The error Step Functions reports for one of the service's error shapes, or for an error
    whose code the model does not declare (``None``)."""
    if error_shape is None:
        return f"{integration.prefix}.{integration.base_exception}"
    return f"{integration.prefix}.{exception_name(error_shape, integration.java_sdk)}"


def error_shape_for_code(integration: Integration, code: str) -> str | None:
    """The error shape the service's model declares for an error code, as the SDKs map it
    (``InstanceRefreshInProgress`` -> ``InstanceRefreshInProgressFault``); None if undeclared."""
    try:
        shapes = service_model(integration).error_shapes
    except UnknownServiceError:
        return None
    by_code = {shape.error_code: shape.name for shape in shapes}
    by_name = {shape.name: shape.name for shape in shapes}  # a stand-in that answers with the shape's name
    found = by_code.get(code) or by_name.get(code)
    return str(found) if found else None


def error_name_for_code(integration: Integration, code: str) -> str:
    """The error Step Functions reports when the service answers with ``code``.

    aws-sdk autoscaling: ``InstanceRefreshInProgress`` -> ``AutoScaling.InstanceRefreshInProgressException``;
    ``AccessDenied``, ``Throttling``, ``ValidationError`` -> ``AutoScaling.AutoScalingException``.
    """
    return error_name(integration, error_shape_for_code(integration, code))


def aws_sdk_error_name(service: str, error_shape: str | None) -> str:
    """``aws_sdk_error_name("autoscaling", "InstanceRefreshInProgressFault")`` ->
    ``AutoScaling.InstanceRefreshInProgressException``; ``None`` for an undeclared code."""
    return error_name(aws_sdk_integration(service), error_shape)
