"""DescribeInstanceRefreshes paging and filters, and the injected API faults."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from asg_refresh_local.clock import CLOCK

from .conftest import REGION, Env

_no_retries: list[Any] = []


def no_retries() -> Any:
    # boto3 retries Throttling and 5xx with back-off sleeps; see each injected error once instead.
    if not _no_retries:
        config = Config(retries={"total_max_attempts": 1})
        _no_retries.append(boto3.client("autoscaling", region_name=REGION, config=config))
    return _no_retries[0]


def run_refreshes(env: Env, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(env.start(MinHealthyPercentage=0, InstanceWarmup=0))
        env.run_until_done(step=120)
    return ids


def test_describe_is_newest_first_and_pages(env: Env) -> None:
    env.make_group(size=1)
    ids = run_refreshes(env, 5)
    first = env.asg.describe_instance_refreshes(AutoScalingGroupName="web", MaxRecords=2)
    assert [r["InstanceRefreshId"] for r in first["InstanceRefreshes"]] == ids[::-1][:2]
    second = env.asg.describe_instance_refreshes(
        AutoScalingGroupName="web", MaxRecords=2, NextToken=first["NextToken"]
    )
    third = env.asg.describe_instance_refreshes(
        AutoScalingGroupName="web", MaxRecords=2, NextToken=second["NextToken"]
    )
    assert "NextToken" not in third
    paged = [r["InstanceRefreshId"] for page in (first, second, third) for r in page["InstanceRefreshes"]]
    assert paged == ids[::-1]
    everything = env.asg.describe_instance_refreshes(AutoScalingGroupName="web")
    assert len(everything["InstanceRefreshes"]) == 5  # default MaxRecords is 50


def test_describe_by_ids(env: Env) -> None:
    env.make_group(size=1)
    ids = run_refreshes(env, 3)
    rows = env.asg.describe_instance_refreshes(
        AutoScalingGroupName="web", InstanceRefreshIds=[ids[0], ids[2]]
    )
    assert [r["InstanceRefreshId"] for r in rows["InstanceRefreshes"]] == [ids[2], ids[0]]


def test_describe_rejects_bad_paging(env: Env) -> None:
    env.make_group(size=1)
    with pytest.raises(ClientError) as caught:
        env.asg.describe_instance_refreshes(AutoScalingGroupName="web", MaxRecords=101)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        env.asg.describe_instance_refreshes(AutoScalingGroupName="web", NextToken="bogus")
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_paginating_with_the_max_of_100(env: Env) -> None:
    env.make_group(size=1)
    env.emulation.timings.pending_seconds = 0
    for _ in range(3):
        env.start()
        env.asg.cancel_instance_refresh(AutoScalingGroupName="web", WaitForTransitioningInstances=False)
        env.run_until_done(step=10)
        CLOCK.advance(120)  # let the abandoned launch land before the next start
    rows = env.asg.describe_instance_refreshes(AutoScalingGroupName="web", MaxRecords=100)
    assert len(rows["InstanceRefreshes"]) == 3


@pytest.mark.parametrize(
    ("inject", "code", "status"),
    [("throttle", "Throttling", 400), ("contention", "ResourceContention", 500)],
)
def test_injected_api_errors_hit_the_next_calls_only(env: Env, inject: str, code: str, status: int) -> None:
    env.make_group(size=1)
    getattr(env.emulation.faults, inject)("StartInstanceRefresh", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            no_retries().start_instance_refresh(AutoScalingGroupName="web")
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    env.asg.start_instance_refresh(AutoScalingGroupName="web")  # the third call goes through


def test_faults_reach_any_autoscaling_action(env: Env) -> None:
    env.make_group(size=1)
    env.emulation.faults.throttle("DescribeAutoScalingGroups")
    with pytest.raises(ClientError) as caught:
        no_retries().describe_auto_scaling_groups()
    assert caught.value.response["Error"]["Code"] == "Throttling"
    env.emulation.faults.throttle("DescribeInstanceRefreshes", times=5)
    env.emulation.faults.clear()
    env.asg.describe_instance_refreshes(AutoScalingGroupName="web")


def test_a_vanished_refresh_disappears_from_describe(env: Env) -> None:
    env.make_group(size=2)
    refresh_id = env.start()
    env.emulation.faults.vanish(refresh_id)
    rows = env.asg.describe_instance_refreshes(AutoScalingGroupName="web", InstanceRefreshIds=[refresh_id])
    assert rows["InstanceRefreshes"] == []


def test_page_tokens_are_opaque_and_belong_to_their_group(env: Env) -> None:
    env.make_group(size=1)
    env.make_group("api", size=1)
    ids = run_refreshes(env, 3)
    first = env.asg.describe_instance_refreshes(AutoScalingGroupName="web", MaxRecords=1)

    token = first["NextToken"]
    assert token not in ids  # no refresh id a caller could guess or forge
    with pytest.raises(ClientError) as caught:
        env.asg.describe_instance_refreshes(AutoScalingGroupName="api", NextToken=token)
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"
    with pytest.raises(ClientError) as caught:
        env.asg.describe_instance_refreshes(AutoScalingGroupName="web", NextToken=ids[1])
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_times_are_whole_seconds_and_launches_are_on_the_refreshs_clock(env: Env) -> None:
    # Given a clock between two seconds, as a scaled clock is at almost every instant
    env.make_group(size=2)
    CLOCK.advance(0.25)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)

    # When the refresh runs to its end long after its launches (one advance, caught up at once)
    CLOCK.advance(3600)

    # Then its times carry no fraction, as AWS's, and the new instances were launched when the
    # refresh launched them (5 s pending), on its clock, not when the test's wall clock ran
    row = env.refresh()
    assert row["Status"] == "Successful"
    assert (row["StartTime"].microsecond, row["EndTime"].microsecond) == (0, 0)
    ids = [i["InstanceId"] for i in env.instances()]
    reservations = env.ec2.describe_instances(InstanceIds=ids)["Reservations"]
    launch_times = {i["LaunchTime"] for r in reservations for i in r["Instances"]}
    assert launch_times == {row["StartTime"] + timedelta(seconds=5)}
