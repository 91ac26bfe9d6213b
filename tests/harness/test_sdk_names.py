"""aws-sdk task fields: PascalCase in the state machine, the model's own casing for boto3."""

from __future__ import annotations

from asg_refresh_local.harness.sdk_names import operation, to_model_names, to_sdk_names


def test_a_camel_case_service_is_called_with_its_own_names_and_answers_in_pascal_case() -> None:
    described = operation("stepfunctions", "describe_execution")

    assert to_model_names(described.input_shape, {"ExecutionArn": "arn:x"}) == {"executionArn": "arn:x"}
    answer = {"status": "SUCCEEDED", "output": '{"a": 1}', "outputDetails": {"included": True}}
    assert to_sdk_names(described.output_shape, answer) == {
        "Status": "SUCCEEDED",
        "Output": '{"a": 1}',
        "OutputDetails": {"Included": True},
    }


def test_pascal_case_services_and_map_keys_are_left_as_they_are() -> None:
    refreshes = operation("autoscaling", "describe_instance_refreshes")
    tags = operation("stepfunctions", "start_execution")

    params = {"AutoScalingGroupName": "web", "InstanceRefreshIds": ["r-1"]}
    assert to_model_names(refreshes.input_shape, params) == params
    # A name the model does not know is passed on for botocore to refuse, not guessed at.
    assert to_model_names(tags.input_shape, {"StateMachineArn": "a", "Bogus": 1}) == {
        "stateMachineArn": "a",
        "Bogus": 1,
    }
    lambda_tags = operation("lambda", "tag_resource")
    assert to_model_names(lambda_tags.input_shape, {"Resource": "f", "Tags": {"team": "web"}}) == {
        "Resource": "f",
        "Tags": {"team": "web"},
    }
