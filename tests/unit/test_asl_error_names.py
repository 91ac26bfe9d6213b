"""Every Retry and Catch in statemachine/ names an error Step Functions can report at that state.

A name that cannot occur is not an error Step Functions reports: the Retry never fires and the
Catch never catches, silently. The names are derived with ``sfn_errors``, which the harness also
uses to name moto's errors, from botocore's model of the operation each task calls.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asg_refresh import errors as product_errors_module
from asg_refresh.errors import AsgRefreshError
from asg_refresh_local.harness import sfn_errors
from asg_refresh_local.harness.sfn_errors import Integration

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
ASL_FILES = sorted(STATEMACHINE.glob("*.asl.json"))

#: The names Step Functions defines: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
#: (States.BranchFailed from the States Language specification, https://states-language.net/spec.html#appendix-a).
STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.BranchFailed",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
    }
)

#: The transient Lambda service errors AWS says to retry on every Lambda task:
#: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
LAMBDA_TRANSIENT = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)

_STATES_PREFIX = "arn:aws:states:::"
_AWS_SDK_PREFIX = "arn:aws:states:::aws-sdk:"


def product_errors() -> dict[str, type[AsgRefreshError]]:
    """The exceptions our handlers raise on purpose; Lambda reports them by class name."""
    return {
        name: value
        for name, value in vars(product_errors_module).items()
        if inspect.isclass(value)
        and issubclass(value, AsgRefreshError)
        and value.__module__ == product_errors_module.__name__
    }


def walk(
    states: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every state, with the names leading to it, through Map processors and Parallel branches."""
    for name, state in states.items():
        here = (*path, name)
        yield here, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if state.get("Type") == "Map" and processor:
            yield from walk(processor["States"], here)
        if state.get("Type") == "Parallel":
            for index, branch in enumerate(state.get("Branches", [])):
                yield from walk(branch["States"], (*here, f"branch {index}"))


def _operation_errors(integration: Integration, action: str) -> set[str] | str:
    """The names one operation can fail with, or why they cannot be known."""
    model = sfn_errors.service_model(integration)
    operation = action.split(".", maxsplit=1)[0]  # lambda:invoke.waitForTaskToken, states:startExecution.sync
    operation = operation[:1].upper() + operation[1:]
    if operation not in model.operation_names:
        return f"{integration.botocore_name} has no operation {operation}"
    names = {
        sfn_errors.error_name(integration, shape.name)
        for shape in model.operation_model(operation).error_shapes
    }
    names.add(sfn_errors.error_name(integration, None))
    names.update(f"{integration.prefix}.{extra}" for extra in integration.extra)
    return names


def task_errors(resource: str) -> set[str] | str:
    """The names a Task with this Resource can report besides ``States.*``, or why it cannot tell."""
    if resource.startswith(_AWS_SDK_PREFIX):
        service, _, action = resource[len(_AWS_SDK_PREFIX) :].partition(":")
        return _operation_errors(sfn_errors.aws_sdk_integration(service), action)
    if resource.startswith(_STATES_PREFIX):
        service, _, action = resource[len(_STATES_PREFIX) :].partition(":")
    elif resource.startswith(("arn:aws:lambda:", "${")):  # a function ARN, or its DefinitionSubstitution
        service, action = "lambda", "invoke"
    else:
        return f"no error naming is known for the resource {resource}"
    if service not in sfn_errors.OPTIMISED_INTEGRATIONS:
        return f"no error naming is known for the optimised {service} integration: add it to sfn_errors"
    names = _operation_errors(sfn_errors.optimised_integration(service), action)
    if isinstance(names, set) and service == "lambda":
        names.update(product_errors())  # what the function raises, by class name
    return names


def possible_errors(state: dict[str, Any]) -> set[str] | str:
    """Every name a state can report: its task's, or for Map and Parallel, its inner states'."""
    if state["Type"] == "Task":
        found = task_errors(state["Resource"])
        return found if isinstance(found, str) else found | STATES_ERRORS
    names = set(STATES_ERRORS)
    inner: list[dict[str, Any]] = []
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        inner.append(processor["States"])
    inner.extend(branch["States"] for branch in state.get("Branches", []))
    for states in inner:
        for _, nested in walk(states):
            if nested["Type"] == "Task":
                found = task_errors(nested["Resource"])
                if isinstance(found, set):
                    names |= found
    return names


def _name_problems(where: str, name: str, possible: set[str], retrying: bool) -> list[str]:
    if name.startswith("States."):
        return [] if name in STATES_ERRORS else [f"{where}: {name} is not an error Step Functions defines"]
    if name not in possible:
        close = difflib.get_close_matches(name, sorted(possible), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return [f"{where}: {name} cannot occur here{hint}"]
    product = product_errors().get(name)
    if retrying and product is not None and not product.retryable:
        return [f"{where}: {name} is not retryable (the same input fails the same way)"]
    return []


def _field_problems(where: str, field: str, entries: list[dict[str, Any]], possible: set[str]) -> list[str]:
    found: list[str] = []
    for index, entry in enumerate(entries):
        at = f"{where} {field}[{index}]"
        names = entry.get("ErrorEquals", [])
        if "States.ALL" in names and (len(names) > 1 or index != len(entries) - 1):
            found.append(f"{at}: States.ALL must be alone, in the last {field} entry")
        for name in names:
            found.extend(_name_problems(at, name, possible, retrying=field == "Retry"))
    return found


def _lambda_retry_problems(where: str, state: dict[str, Any]) -> list[str]:
    if not state.get("Resource", "").startswith(f"{_STATES_PREFIX}lambda:invoke"):
        return []
    retried = {name for entry in state.get("Retry", []) for name in entry.get("ErrorEquals", [])}
    missing = [name for name in LAMBDA_TRANSIENT if name not in retried]
    return [f"{where}: does not retry Lambda's transient {', '.join(missing)}"] if missing else []


def problems(definition: dict[str, Any]) -> list[str]:
    """Every name in a definition's Retry and Catch that is not one Step Functions can report there."""
    found: list[str] = []
    for path, state in walk(definition["States"]):
        if not (state.get("Retry") or state.get("Catch") or state.get("Type") == "Task"):
            continue
        where = " > ".join(path)
        possible = possible_errors(state)
        if isinstance(possible, str):
            found.append(f"{where}: {possible}")
            continue
        for field in ("Retry", "Catch"):
            found.extend(_field_problems(where, field, state.get(field, []), possible))
        found.extend(_lambda_retry_problems(where, state))
    return found


def _load(name: str) -> dict[str, Any]:
    return json.loads((STATEMACHINE / name).read_text())


def _state(definition: dict[str, Any], *path: str) -> dict[str, Any]:
    return dict(walk(definition["States"]))[path]


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.name)
def test_every_error_name_can_occur_where_it_is_caught(asl: Path) -> None:
    definition = json.loads(asl.read_text())

    assert problems(definition) == []


def test_the_walk_reaches_nested_states_and_every_handler() -> None:
    definition = _load("rollout_waves.asl.json")

    paths = [path for path, _ in walk(definition["States"])]

    assert ("Refresh the wave's groups", "Describe the watcher") in paths
    assert ("Revert the earlier waves", "Revert the group") in paths
    assert len(ASL_FILES) >= 2


# Each case puts a wrong name, in a first Retry or Catch of its own, into a real state machine;
# the check must reject it.
@pytest.mark.parametrize(
    ("asl", "path", "field", "name", "expected"),
    [
        # The API's shape name, not Step Functions': the Fault suffix is not renamed.
        (
            "watch_refresh.asl.json",
            ("Restart the refresh",),
            "Catch",
            "AutoScaling.InstanceRefreshInProgressFault",
            "did you mean AutoScaling.InstanceRefreshInProgressException",
        ),
        # moto's own naming: the lower-case service and Exception added to the shape.
        (
            "watch_refresh.asl.json",
            ("Restart the refresh",),
            "Catch",
            "autoscaling.InstanceRefreshInProgressFaultException",
            "cannot occur here",
        ),
        # A real AutoScaling error, but DescribeInstanceRefreshes does not declare it.
        (
            "watch_refresh.asl.json",
            ("Describe the refresh",),
            "Retry",
            "AutoScaling.InstanceRefreshInProgressException",
            "cannot occur here",
        ),
        # An AutoScaling error on a Lambda task.
        (
            "watch_refresh.asl.json",
            ("Evaluate the gates",),
            "Retry",
            "AutoScaling.ResourceContentionException",
            "cannot occur here",
        ),
        # The aws-sdk integration's casing on the optimised sns:publish (SDK for Java 1.x names).
        (
            "watch_refresh.asl.json",
            ("Publish the outcome",),
            "Retry",
            "SNS.KmsThrottlingException",
            "did you mean SNS.KMSThrottlingException",
        ),
        (
            "watch_refresh.asl.json",
            ("Publish the outcome",),
            "Retry",
            "Sns.InternalErrorException",
            "cannot occur",
        ),
        # SNS declares ThrottledException for its SMS actions only; Publish throttling is undeclared.
        (
            "watch_refresh.asl.json",
            ("Publish the outcome",),
            "Retry",
            "SNS.ThrottledException",
            "cannot occur",
        ),
        # The aws-sdk prefix on the optimised states:startExecution.
        (
            "watch_refresh.asl.json",
            ("Continue in a new execution",),
            "Catch",
            "Sfn.ExecutionAlreadyExistsException",
            "cannot occur here",
        ),
        ("watch_refresh.asl.json", ("Describe the refresh",), "Retry", "States.Everything", "not an error"),
        # A Lambda task: a class our handlers do not have, and a permanent error retried.
        (
            "watch_refresh.asl.json",
            ("Evaluate the gates",),
            "Retry",
            "RefreshFailedError",
            "cannot occur here",
        ),
        (
            "watch_refresh.asl.json",
            ("Evaluate the gates",),
            "Retry",
            "InvalidRequestError",
            "is not retryable",
        ),
        # Inside a distributed Map's item processor.
        (
            "rollout_waves.asl.json",
            ("Refresh the wave's groups", "Describe the watcher"),
            "Retry",
            "Sfn.ExecutionDoesNotExist",
            "Refresh the wave's groups > Describe the watcher Retry[0]",
        ),
    ],
)
def test_a_wrong_name_is_rejected(
    asl: str, path: tuple[str, ...], field: str, name: str, expected: str
) -> None:
    definition = _load(asl)
    state = _state(definition, *path)
    state[field].insert(0, {**state[field][-1], "ErrorEquals": [name]})

    found = problems(definition)

    assert len(found) == 1, found
    assert name in found[0]
    assert expected in found[0]


def test_a_wrong_name_in_a_parallel_branch_is_rejected() -> None:
    definition = _load("watch_refresh.asl.json")
    describe = copy.deepcopy(_state(definition, "Describe the refresh"))
    describe["Retry"][0]["ErrorEquals"] = ["AutoScaling.ResourceContentionFault"]
    describe["Catch"][0]["Next"] = "Gave up"
    definition["States"]["Both"] = {
        "Type": "Parallel",
        "Branches": [
            {
                "StartAt": "Describe",
                "States": {"Describe": {**describe, "Next": "Gave up"}, "Gave up": {"Type": "Succeed"}},
            }
        ],
        "Catch": [
            {"ErrorEquals": ["AutoScaling.ResourceContentionException"], "Next": "Describe the refresh"}
        ],
        "End": True,
    }

    found = problems(definition)

    assert found == [
        "Both > branch 0 > Describe Retry[0]: AutoScaling.ResourceContentionFault cannot occur here "
        "(did you mean AutoScaling.ResourceContentionException?)"
    ]


def test_states_all_must_stand_alone_and_last() -> None:
    definition = _load("watch_refresh.asl.json")
    catchers = _state(definition, "Describe the refresh")["Catch"]
    catchers[0]["ErrorEquals"].append("States.Timeout")

    assert problems(definition) == [
        "Describe the refresh Catch[0]: States.ALL must be alone, in the last Catch entry"
    ]


def test_a_lambda_task_must_retry_lambdas_transient_errors() -> None:
    definition = _load("rollout_waves.asl.json")
    _state(definition, "Check the wave")["Retry"][0]["ErrorEquals"].remove(
        "Lambda.ClientExecutionTimeoutException"
    )

    assert problems(definition) == [
        "Check the wave: does not retry Lambda's transient Lambda.ClientExecutionTimeoutException"
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InstanceRefreshInProgress", "AutoScaling.InstanceRefreshInProgressException"),
        ("ResourceContention", "AutoScaling.ResourceContentionException"),
        ("ActiveInstanceRefreshNotFound", "AutoScaling.ActiveInstanceRefreshNotFoundException"),
        # Codes autoscaling's model does not declare: the SDK's base exception.
        ("AccessDenied", "AutoScaling.AutoScalingException"),
        ("Throttling", "AutoScaling.AutoScalingException"),
        ("ValidationError", "AutoScaling.AutoScalingException"),
    ],
)
def test_an_autoscaling_error_code_is_named_as_aws_sdk_tasks_report_it(code: str, expected: str) -> None:
    assert sfn_errors.error_name_for_code(sfn_errors.aws_sdk_integration("autoscaling"), code) == expected


@pytest.mark.parametrize(
    ("service", "code", "expected"),
    [
        ("sns", "KMSThrottling", "SNS.KMSThrottlingException"),
        ("sns", "ParameterValueInvalid", "SNS.InvalidParameterValueException"),
        ("sns", "Throttling", "SNS.AmazonSNSException"),
        # The IAM denials the harness raises: SNS's is modelled, Step Functions' and Lambda's are not.
        ("sns", "AuthorizationError", "SNS.AuthorizationErrorException"),
        ("states", "ExecutionAlreadyExists", "StepFunctions.ExecutionAlreadyExistsException"),
        ("states", "AccessDeniedException", "StepFunctions.AWSStepFunctionsException"),
        ("lambda", "TooManyRequestsException", "Lambda.TooManyRequestsException"),
        ("lambda", "AccessDeniedException", "Lambda.AWSLambdaException"),
    ],
)
def test_an_error_code_is_named_as_optimised_tasks_report_it(service: str, code: str, expected: str) -> None:
    assert sfn_errors.error_name_for_code(sfn_errors.optimised_integration(service), code) == expected


@pytest.mark.parametrize(
    ("shape", "v2", "v1"),
    [
        (
            "InstanceRefreshInProgressFault",
            "InstanceRefreshInProgressException",
            "InstanceRefreshInProgressException",
        ),
        ("KMSThrottlingException", "KmsThrottlingException", "KMSThrottlingException"),
        ("DBInstanceNotFoundFault", "DbInstanceNotFoundException", "DBInstanceNotFoundException"),
        ("BucketAlreadyExists", "BucketAlreadyExistsException", "BucketAlreadyExistsException"),
        ("ResourceNotFoundException", "ResourceNotFoundException", "ResourceNotFoundException"),
    ],
)
def test_exception_names_follow_the_sdks_for_java(shape: str, v2: str, v1: str) -> None:
    assert sfn_errors.exception_name(shape, java_sdk=2) == v2
    assert sfn_errors.exception_name(shape, java_sdk=1) == v1


@pytest.mark.parametrize("service", sorted(sfn_errors.AWS_SDK_INTEGRATIONS))
def test_the_table_of_service_names_agrees_with_the_sdk_for_java(service: str) -> None:
    """The prefixes are copied from AWS's table; the SDK for Java 2.x derives the same from botocore."""
    integration = sfn_errors.AWS_SDK_INTEGRATIONS[service]
    service_id = sfn_errors.service_model(integration).service_id

    assert sfn_errors.java_v2_service_name(service_id) == integration.prefix
    assert sfn_errors.aws_sdk_integration(service.upper()) == integration
