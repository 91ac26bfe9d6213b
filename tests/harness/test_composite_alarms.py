"""Composite alarms added to moto's CloudWatch: rules parsed and refused as AWS does, states that
follow the children, DescribeAlarms' AlarmTypes, and state changes on the default bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from asg_refresh_local import composite_alarms
from asg_refresh_local.composite_alarms import RuleError, children, holds, parse_rule

REGION = "us-east-1"


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    composite_alarms.install()
    with mock_aws():
        client = boto3.client("cloudwatch", region_name=REGION)
        for name in ("cpu", "disk", "deploying"):
            client.put_metric_alarm(
                AlarmName=name,
                Namespace="AWS/EC2",
                MetricName="CPUUtilization",
                Statistic="Average",
                Period=60,
                EvaluationPeriods=1,
                Threshold=90,
                ComparisonOperator="GreaterThanThreshold",
            )
            client.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
        yield client


@pytest.fixture
def bus(cloudwatch: Any) -> Any:
    """An SQS queue behind a rule for every CloudWatch alarm state change on the default bus."""
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    events.put_rule(Name="alarms", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="alarms", Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def composite(cloudwatch: Any, name: str) -> dict[str, Any]:
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    return dict(alarm)


def test_rules_parse_with_not_before_and_before_or() -> None:
    rule = parse_rule(
        'ALARM(cpu) OR ALARM("disk") AND NOT OK(arn:aws:cloudwatch:us-east-1:1:alarm:deploying)'
    )
    assert children(rule) == ["cpu", "disk", "deploying"]

    def states(values: dict[str, str]) -> Any:
        return values.get

    assert holds(rule, states({"cpu": "ALARM"}))
    assert not holds(rule, states({"disk": "ALARM", "deploying": "OK"}))
    assert holds(rule, states({"disk": "ALARM", "deploying": "INSUFFICIENT_DATA"}))
    assert holds(parse_rule("(ALARM(cpu) OR TRUE) AND NOT FALSE"), states({}))
    assert not holds(parse_rule("INSUFFICIENT_DATA(cpu)"), states({}))  # a missing alarm is in no state


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("()", "Unsupported token ')' at char 1"),
        ("ALARM(cpu) AND", "Unexpected end of expression"),
        ("ALARM(cpu) XOR ALARM(disk)", "Unsupported token 'XOR' at char 11"),
        ("WARN(cpu)", "Unsupported token 'WARN' at char 0"),
        ("ALARM(cpu", "Unexpected end of expression, expected )"),
        ('ALARM("cpu)', "Unsupported token '\"' at char 6"),
    ],
)
def test_rules_that_do_not_parse_are_refused_with_the_position(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rule(rule)


def test_put_composite_alarm_refuses_bad_rules_and_unknown_children(cloudwatch: Any) -> None:
    with pytest.raises(ClientError) as bad:
        cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="()")
    assert bad.value.response["Error"]["Code"] == "ValidationError"
    assert "Error in AlarmRule [Unsupported token ')' at char 1]" in bad.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as unknown:
        cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(cpu) OR ALARM(nosuch)")
    assert "alarms [nosuch] in the alarm rule do not exist" in unknown.value.response["Error"]["Message"]
    kept = cloudwatch.describe_alarms(AlarmNames=["c"], AlarmTypes=["CompositeAlarm"])
    assert kept["CompositeAlarms"] == []


def test_a_composite_follows_its_children_and_says_which_one_triggered_it(cloudwatch: Any, bus: Any) -> None:
    # Given a composite in ALARM when cpu and disk both are, unless a deployment is under way
    rule = "ALARM(cpu) AND ALARM(disk) AND NOT ALARM(deploying)"
    cloudwatch.put_composite_alarm(AlarmName="host", AlarmRule=rule, AlarmDescription="both")
    assert composite(cloudwatch, "host")["StateValue"] == "OK"  # evaluated at once on creation

    # When cpu, then disk, enter ALARM
    cloudwatch.set_alarm_state(AlarmName="cpu", StateValue="ALARM", StateReason="hot")
    assert composite(cloudwatch, "host")["StateValue"] == "OK"
    cloudwatch.set_alarm_state(AlarmName="disk", StateValue="ALARM", StateReason="busy")

    # Then the composite is in ALARM, with AWS's reason and the triggering children
    alarm = composite(cloudwatch, "host")
    assert (alarm["StateValue"], alarm["AlarmRule"]) == ("ALARM", rule)
    assert alarm["StateReason"].startswith(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu transitioned to ALARM at "
    )
    triggering = json.loads(alarm["StateReasonData"])["triggeringAlarms"]
    assert [t["arn"].rsplit(":", 1)[1] for t in triggering] == ["cpu", "disk"]

    # And each of its transitions reached the default bus in the composite shape
    creation, into_alarm = bus()
    assert (creation["detail"]["previousState"]["value"], creation["detail"]["state"]["value"]) == (
        "INSUFFICIENT_DATA",
        "OK",
    )
    assert into_alarm["source"] == "aws.cloudwatch"
    assert into_alarm["detail-type"] == "CloudWatch Alarm State Change"
    assert into_alarm["resources"] == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:host"]
    detail = into_alarm["detail"]
    assert detail["alarmName"] == "host"
    assert (detail["previousState"]["value"], detail["state"]["value"]) == ("OK", "ALARM")
    assert detail["configuration"]["alarmRule"] == rule

    # And a deployment under way silences it again
    cloudwatch.set_alarm_state(AlarmName="deploying", StateValue="ALARM", StateReason="deploy")
    assert composite(cloudwatch, "host")["StateValue"] == "OK"


def test_composites_of_composites_and_deleted_children(cloudwatch: Any) -> None:
    cloudwatch.put_composite_alarm(AlarmName="inner", AlarmRule="ALARM(cpu)")
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:inner"
    cloudwatch.put_composite_alarm(AlarmName="outer", AlarmRule=f'ALARM("{arn}") AND TRUE')

    cloudwatch.set_alarm_state(AlarmName="cpu", StateValue="ALARM", StateReason="hot")
    assert [composite(cloudwatch, n)["StateValue"] for n in ("inner", "outer")] == ["ALARM", "ALARM"]

    cloudwatch.delete_alarms(AlarmNames=["cpu"])  # a child gone is in no state
    assert [composite(cloudwatch, n)["StateValue"] for n in ("inner", "outer")] == ["OK", "OK"]


def test_an_update_keeps_the_state_then_evaluates_the_new_rule(cloudwatch: Any) -> None:
    cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="TRUE")
    assert composite(cloudwatch, "c")["StateValue"] == "ALARM"

    cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(cpu)")

    assert composite(cloudwatch, "c")["StateValue"] == "OK"


def test_a_cycle_stops_the_evaluation_and_cloudwatch_still_answers(cloudwatch: Any) -> None:
    cloudwatch.put_composite_alarm(AlarmName="a", AlarmRule="TRUE")
    cloudwatch.put_composite_alarm(AlarmName="b", AlarmRule="NOT ALARM(a)")
    cloudwatch.put_composite_alarm(AlarmName="a", AlarmRule="ALARM(b)")  # a -> b -> a: never settles

    cloudwatch.set_alarm_state(AlarmName="cpu", StateValue="ALARM", StateReason="still answers")

    assert {composite(cloudwatch, n)["StateValue"] for n in ("a", "b")} <= {"OK", "ALARM"}


def test_describe_alarms_returns_composites_only_when_asked(cloudwatch: Any) -> None:
    cloudwatch.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(cpu)")

    default = cloudwatch.describe_alarms(AlarmNames=["cpu", "c"])
    both = cloudwatch.describe_alarms(AlarmNames=["cpu", "c"], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    only = cloudwatch.describe_alarms(AlarmNames=["cpu", "c"], AlarmTypes=["CompositeAlarm"])

    assert ([a["AlarmName"] for a in default["MetricAlarms"]], default["CompositeAlarms"]) == (["cpu"], [])
    assert [a["AlarmName"] for a in both["MetricAlarms"] + both["CompositeAlarms"]] == ["cpu", "c"]
    assert (only["MetricAlarms"], [a["AlarmName"] for a in only["CompositeAlarms"]]) == ([], ["c"])
