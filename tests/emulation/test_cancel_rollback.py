"""Cancel, manual rollback, the irreversible cases and automatic rollback on each kind of failure."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from asg_refresh_local.clock import CLOCK

from .conftest import NEW_AMI, OLD_AMI, Env


def error_code(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    err = caught.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_cancel_waits_for_the_in_flight_batch_by_default(env: Env) -> None:
    env.make_group(size=4)
    refresh_id = env.start(MinHealthyPercentage=50, InstanceWarmup=300)
    CLOCK.advance(5 + 30)  # the first batch is launching
    assert env.asg.cancel_instance_refresh(AutoScalingGroupName="web")["InstanceRefreshId"] == refresh_id
    assert env.status() == "Cancelling"
    CLOCK.advance(29)
    assert env.status() == "Cancelling"
    CLOCK.advance(1)  # the batch is in service
    row = env.refresh()
    assert row["Status"] == "Cancelled"
    assert "EndTime" in row
    # Replaced instances stay replaced; nothing else is touched.
    assert sorted(env.image_ids()) == sorted([NEW_AMI, NEW_AMI, OLD_AMI, OLD_AMI])


def test_cancel_without_waiting(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=50, InstanceWarmup=300)
    CLOCK.advance(5 + 30)
    env.asg.cancel_instance_refresh(AutoScalingGroupName="web", WaitForTransitioningInstances=False)
    assert env.status() == "Cancelling"
    CLOCK.advance(5)
    assert env.status() == "Cancelled"
    CLOCK.advance(60)  # the launches already under way still land
    assert len(env.instances()) == 4
    assert {i["LifecycleState"] for i in env.instances()} == {"InService"}


def test_cancel_with_nothing_active(env: Env) -> None:
    env.make_group(size=1)
    assert error_code(env.asg.cancel_instance_refresh, AutoScalingGroupName="web") == (
        "ActiveInstanceRefreshNotFound",
        400,
    )
    assert error_code(env.asg.rollback_instance_refresh, AutoScalingGroupName="web") == (
        "ActiveInstanceRefreshNotFound",
        400,
    )


def test_manual_rollback_restores_the_previous_configuration(env: Env) -> None:
    env.make_group(size=4)
    refresh_id = env.start(MinHealthyPercentage=50, InstanceWarmup=60)
    CLOCK.advance(5 + 60 + 60)  # half replaced
    row = env.refresh()
    assert row["PercentageComplete"] == 50
    assert env.asg.rollback_instance_refresh(AutoScalingGroupName="web")["InstanceRefreshId"] == refresh_id
    row = env.refresh()
    assert row["Status"] == "RollbackInProgress"
    details = row["RollbackDetails"]
    assert details["PercentageCompleteOnRollback"] == 50
    assert details["InstancesToUpdateOnRollback"] == 0  # the second batch had begun
    assert details["RollbackStartTime"] == row["StartTime"].__class__.fromtimestamp(
        CLOCK.timestamp(), tz=row["StartTime"].tzinfo
    )
    assert "user" in details["RollbackReason"]
    assert details["ProgressDetailsOnRollback"]["LivePoolProgress"]["PercentageComplete"] == 50
    assert env.run_until_done(step=30) == "RollbackSuccessful"
    row = env.refresh()
    assert row["PercentageComplete"] == 0
    assert env.image_ids() == [OLD_AMI] * 4
    group = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "1"


def test_cancel_also_cancels_a_rollback(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=50, InstanceWarmup=60)
    CLOCK.advance(5 + 60 + 60)
    env.asg.rollback_instance_refresh(AutoScalingGroupName="web")
    env.asg.cancel_instance_refresh(AutoScalingGroupName="web", WaitForTransitioningInstances=False)
    assert env.run_until_done(step=5) == "Cancelled"


@pytest.mark.parametrize(
    ("group_version", "desired_version"),
    [("1", "$Latest"), ("1", "$Default"), ("$Latest", "2"), ("$Default", "2")],
)
def test_rollback_is_irreversible_with_latest_or_default(
    env: Env, group_version: str, desired_version: str
) -> None:
    env.make_group(size=2, version=group_version)
    env.start(version=desired_version, MinHealthyPercentage=50)
    assert error_code(env.asg.rollback_instance_refresh, AutoScalingGroupName="web") == (
        "IrreversibleInstanceRefresh",
        400,
    )


def test_rollback_is_irreversible_without_desired_configuration(env: Env) -> None:
    env.make_group(size=2)
    env.asg.start_instance_refresh(AutoScalingGroupName="web")
    assert error_code(env.asg.rollback_instance_refresh, AutoScalingGroupName="web") == (
        "IrreversibleInstanceRefresh",
        400,
    )


def test_rollback_is_irreversible_with_an_ssm_image(env: Env) -> None:
    env.make_group(size=2)
    env.ec2.create_launch_template_version(
        LaunchTemplateId=env.template_id,
        LaunchTemplateData={"ImageId": "resolve:ssm:/golden/ami", "InstanceType": "t3.small"},
    )
    env.start(version="3", MinHealthyPercentage=50)
    assert error_code(env.asg.rollback_instance_refresh, AutoScalingGroupName="web") == (
        "IrreversibleInstanceRefresh",
        400,
    )


def test_auto_rollback_after_launch_failure(env: Env) -> None:
    env.make_group(size=4)
    env.emulation.faults.fail_launches("web", count=1)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, AutoRollback=True)
    assert env.run_until_done(step=30) == "RollbackSuccessful"
    row = env.refresh()
    assert "failed to launch" in row["RollbackDetails"]["RollbackReason"]
    assert env.image_ids() == [OLD_AMI] * 4


def test_launch_failure_without_auto_rollback_fails(env: Env) -> None:
    env.make_group(size=4)
    env.emulation.faults.fail_launches("web", count=1)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    assert env.run_until_done(step=30) == "Failed"
    assert "failed to launch" in env.refresh()["StatusReason"]


def test_rollback_fails_when_launches_keep_failing(env: Env) -> None:
    env.make_group(size=4)
    env.emulation.faults.fail_launches("web")  # every launch, the rollback's too
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, AutoRollback=True)
    assert env.run_until_done(step=30) == "RollbackFailed"


def test_auto_rollback_after_unhealthy_instances(env: Env) -> None:
    env.make_group(size=4)
    env.emulation.faults.unhealthy_new_instances("web", count=1)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, AutoRollback=True)
    assert env.run_until_done(step=30) == "RollbackSuccessful"
    assert "health checks" in env.refresh()["RollbackDetails"]["RollbackReason"]
    assert env.image_ids() == [OLD_AMI] * 4


def test_unhealthy_instances_without_auto_rollback_fail(env: Env) -> None:
    env.make_group(size=4)
    env.emulation.faults.unhealthy_new_instances("web", count=1)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    assert env.run_until_done(step=30) == "Failed"
    assert "health checks" in env.refresh()["StatusReason"]
    assert len(env.instances()) == 4  # the group replaced the unhealthy one


def put_alarm(env: Env, name: str) -> Any:
    from .conftest import client

    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="5xx",
        Namespace="App",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    return cloudwatch


def test_auto_rollback_when_an_alarm_goes_off(env: Env) -> None:
    env.make_group(size=4)
    cloudwatch = put_alarm(env, "errors")
    env.start(
        MinHealthyPercentage=50,
        InstanceWarmup=300,
        AutoRollback=True,
        AlarmSpecification={"Alarms": ["errors"]},
    )
    CLOCK.advance(5 + 60 + 100)
    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="test")
    row = env.refresh()  # any autoscaling call notices it
    assert row["Status"] == "RollbackInProgress"
    assert "errors" in row["RollbackDetails"]["RollbackReason"]
    assert env.run_until_done(step=30) == "RollbackSuccessful"
    assert env.image_ids() == [OLD_AMI] * 4


def test_alarm_without_auto_rollback_fails(env: Env) -> None:
    env.make_group(size=2)
    cloudwatch = put_alarm(env, "latency")
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, AlarmSpecification={"Alarms": ["latency"]})
    cloudwatch.set_alarm_state(AlarmName="latency", StateValue="ALARM", StateReason="test")
    CLOCK.advance(600)
    row = env.refresh()
    assert row["Status"] == "Failed"
    assert "latency" in row["StatusReason"]


def test_a_refresh_cancelled_before_it_ran_reports_no_progress(env: Env) -> None:
    env.make_group(size=2)
    env.start()
    env.asg.cancel_instance_refresh(AutoScalingGroupName="web")

    row = env.refresh()
    assert row["Status"] in {"Cancelling", "Cancelled"}
    assert row["PercentageComplete"] == 0
